//! The store settings of one process (`wisp.s3.*`), read from its configuration over the AWS environment.

use std::time::Duration;

use crate::settings::keys::{
    S3_ALLOW_HTTP, S3_ENDPOINT, S3_MAX_RETRIES, S3_PART_SIZE, S3_PATH_STYLE, S3_READ_CHUNK,
    S3_REGION, S3_RETRY_TIMEOUT,
};
use crate::settings::{Conf, ConfigError};

/// How this process reaches object stores. `None`: what the AWS environment says.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoreSettings {
    /// `wisp.s3.endpoint`.
    pub(crate) endpoint: Option<String>,
    /// `wisp.s3.region`.
    pub(crate) region: Option<String>,
    /// `wisp.s3.pathStyle`.
    pub(crate) path_style: Option<bool>,
    /// `wisp.s3.allowHttp`.
    pub(crate) allow_http: Option<bool>,
    /// `wisp.s3.maxRetries`.
    pub(crate) max_retries: usize,
    /// `wisp.s3.retryTimeout`.
    pub(crate) retry_timeout: Duration,
    /// `wisp.s3.readChunk`.
    pub(crate) read_chunk: usize,
    /// `wisp.s3.partSize`.
    pub(crate) part_size: usize,
}

impl StoreSettings {
    /// The settings a configuration gives.
    pub(crate) fn from_conf(conf: &Conf) -> Result<StoreSettings, ConfigError> {
        let retries: f64 = conf.read(&S3_MAX_RETRIES)?;
        Ok(StoreSettings {
            endpoint: conf.given(&S3_ENDPOINT)?,
            region: conf.given(&S3_REGION)?,
            path_style: conf.given(&S3_PATH_STYLE)?,
            allow_http: conf.given(&S3_ALLOW_HTTP)?,
            max_retries: retries as usize,
            retry_timeout: conf.read(&S3_RETRY_TIMEOUT)?,
            read_chunk: conf.read(&S3_READ_CHUNK)?,
            part_size: conf.read(&S3_PART_SIZE)?,
        })
    }
}

impl Default for StoreSettings {
    fn default() -> StoreSettings {
        StoreSettings::from_conf(&Conf::default()).expect("the declared defaults parse")
    }
}
