//! A submitted main's stdout: a pipe whose bytes a pump thread hands on in chunks (to the submitter).

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::thread::JoinHandle;

/// Bytes read from the pipe at once (the largest chunk handed on).
const CHUNK: usize = 64 << 10;

/// A pipe: its write end (for the main; the pump ends when it is closed) and the
/// thread handing every chunk read from it to `sink` (until `sink` returns false).
pub(super) fn piped(
    mut sink: impl FnMut(Vec<u8>) -> bool + Send + 'static,
) -> std::io::Result<(File, JoinHandle<()>)> {
    let (mut reader, writer) = std::io::pipe()?;
    let pump = std::thread::Builder::new().name("wisp-job-stdout".into()).spawn(move || {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if !sink(buf[..n].to_vec()) {
                        break;
                    }
                }
            }
        }
    })?;
    Ok((File::from(OwnedFd::from(writer)), pump))
}
