//! Compression by file name: `.gz` (gzip, concatenated members too) and `.zst` (zstd) input is decoded, output encoded on request.
//!
//! A compressed file is not splittable: it is one split, read from its first byte (as Hadoop and Spark do).

use std::io::{self, Read, Write};

use crate::settings::keys::OUTPUT_COMPRESS;
use crate::settings::{Conf, ConfigError};

pub(crate) use crate::task::Codec;

/// The codec a file name's extension says.
pub(crate) fn codec_of_name(name: &str) -> Codec {
    if name.ends_with(".gz") {
        Codec::Gzip
    } else if name.ends_with(".zst") {
        Codec::Zstd
    } else {
        Codec::None
    }
}

/// `wisp.output.compress`.
pub(crate) fn output_codec(conf: &Conf) -> Result<Codec, ConfigError> {
    let word: String = conf.read(&OUTPUT_COMPRESS)?;
    Ok(match word.as_str() {
        "gzip" => Codec::Gzip,
        "zstd" => Codec::Zstd,
        _ => Codec::None,
    })
}

/// `raw` decoded by `codec`.
pub(crate) fn decoder<'a>(
    codec: Codec,
    raw: Box<dyn Read + Send + 'a>,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match codec {
        Codec::None => raw,
        Codec::Gzip => {
            Box::new(Checked(flate2::read::MultiGzDecoder::new(io::BufReader::new(raw))))
        }
        Codec::Zstd => Box::new(Checked(zstd::stream::read::Decoder::new(raw)?)),
    })
}

/// Turns a decoder's errors into one cause naming the format (a truncated or corrupt file).
struct Checked<R>(R);

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::Other => e,
            io::ErrorKind::UnexpectedEof => {
                io::Error::new(io::ErrorKind::InvalidData, "truncated compressed data")
            }
            _ => {
                io::Error::new(io::ErrorKind::InvalidData, format!("corrupt compressed data: {e}"))
            }
        })
    }
}

/// A writer encoding into `inner`; `finish` writes the format's trailer and returns `inner`.
pub(crate) enum Encoder<W: Write> {
    /// No compression.
    Plain(W),
    /// gzip.
    Gzip(flate2::write::GzEncoder<W>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

/// `inner` encoded by `codec` (gzip at the default level, zstd at level 3).
pub(crate) fn encoder<W: Write>(codec: Codec, inner: W) -> io::Result<Encoder<W>> {
    Ok(match codec {
        Codec::None => Encoder::Plain(inner),
        Codec::Gzip => {
            Encoder::Gzip(flate2::write::GzEncoder::new(inner, flate2::Compression::default()))
        }
        Codec::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(inner, 3)?),
    })
}

impl<W: Write> Encoder<W> {
    /// Ends the stream and hands back the inner writer (not flushed).
    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(e) => e.write_all(buf),
            Encoder::Zstd(e) => e.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let text = b"one\ntwo\nthree\n".repeat(1000);
        for codec in [Codec::Gzip, Codec::Zstd] {
            let mut e = encoder(codec, Vec::new()).unwrap();
            e.write_all(&text).unwrap();
            let packed = e.finish().unwrap();
            let mut back = Vec::new();
            decoder(codec, Box::new(&packed[..])).unwrap().read_to_end(&mut back).unwrap();
            assert_eq!(back, text, "{codec:?}");
            let cut = &packed[..packed.len() / 2];
            let err = decoder(codec, Box::new(cut)).unwrap().read_to_end(&mut Vec::new());
            assert_eq!(err.unwrap_err().kind(), io::ErrorKind::InvalidData, "{codec:?}");
        }
        assert_eq!(codec_of_name("a/b.txt.gz"), Codec::Gzip);
        assert_eq!(codec_of_name("x.zst"), Codec::Zstd);
        assert_eq!(codec_of_name("x.gzip"), Codec::None);
    }
}
