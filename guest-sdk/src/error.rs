//! The error of the job-side API: a message, as the host reports it.

use std::fmt;
use std::rc::Rc;

/// An error from the driver (a failed job, a missing input, ...) or from the
/// job's own code; its message is what the host shows when `run` fails.
///
/// Like `anyhow::Error`, any `std::error::Error` converts into it with `?`.
/// It does not implement `std::error::Error` itself (that would conflict
/// with the conversion).
#[derive(Clone)]
pub struct Error {
    message: Rc<str>,
}

impl Error {
    /// An error with the given message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self { message: message.to_string().into() }
    }

    /// The message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for Error {
    fn from(error: E) -> Self {
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self { message: message.into() }
    }
}

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Returns early from a function with an [`Error`] made from a format string.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return ::core::result::Result::Err($crate::Error::msg(::std::format!($($arg)*)))
    };
}
