//! Write coalescing under TLS. HTTP/2 flushes after each burst of frames, and with many
//! concurrent calls on one connection a burst is often a single response: one `writev`, one
//! trip through the loopback TCP stack and one wake-up of the peer per call. This wrapper
//! holds written bytes and, on the first flush, lets the connection task yield once, so that
//! the other calls finishing in the same scheduler round add their frames before one write
//! carries them all.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this many held bytes, writes go through without waiting for a flush.
const HOLD_LIMIT: usize = 64 * 1024;

pub(crate) struct CoalescingIo<T> {
    inner: T,
    held: Vec<u8>,
    /// How much of `held` has been written to `inner` already.
    written: usize,
    /// Off while the TLS handshake runs, which expects its writes to go out as made.
    enabled: bool,
    yielded: bool,
}

impl<T: AsyncWrite + Unpin> CoalescingIo<T> {
    /// Passes writes straight through until `enable` is called.
    pub fn new(inner: T) -> CoalescingIo<T> {
        CoalescingIo {
            inner,
            held: Vec::new(),
            written: 0,
            enabled: false,
            yielded: false,
        }
    }

    pub fn enable(&mut self) {
        self.enabled = true;
    }

    /// Writes out everything held.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.held.len() {
            let pending = self.held.get(self.written..).unwrap_or_default();
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.held.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for CoalescingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CoalescingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if !self.enabled {
            return Pin::new(&mut self.inner).poll_write(cx, data);
        }
        if self.held.len() >= HOLD_LIMIT {
            ready!(self.poll_drain(cx))?;
        }
        self.held.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.enabled {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        if self.held.len() >= HOLD_LIMIT {
            ready!(self.poll_drain(cx))?;
        }
        let mut n = 0;
        for b in bufs {
            self.held.extend_from_slice(b);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.held.len() > self.written && !self.yielded {
            // Rescheduled behind the tasks already runnable, which may add their frames.
            self.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(self.poll_drain(cx))?;
        self.yielded = false;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn holds_writes_until_a_flush_and_loses_nothing() {
        let (a, mut b) = tokio::io::duplex(1 << 20);
        let mut io = CoalescingIo::new(a);
        io.write_all(b"hand").await.unwrap();
        io.enable();
        io.write_all(b"shake ").await.unwrap();
        io.write_all(b"then frames").await.unwrap();
        let mut got = vec![0u8; 4];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"hand", "writes before enable go straight through");
        let pending = tokio::time::timeout(std::time::Duration::from_millis(50), async {
            let mut one = [0u8; 1];
            b.read_exact(&mut one).await
        })
        .await;
        assert!(pending.is_err(), "held bytes went out before a flush");
        io.flush().await.unwrap();
        let mut rest = vec![0u8; "shake then frames".len()];
        b.read_exact(&mut rest).await.unwrap();
        assert_eq!(rest, b"shake then frames");
        // Past the limit, bytes go out without a flush.
        let big = vec![7u8; HOLD_LIMIT + 10];
        io.write_all(&big).await.unwrap();
        io.write_all(b"x").await.unwrap();
        let mut out = vec![0u8; HOLD_LIMIT + 10];
        b.read_exact(&mut out).await.unwrap();
        assert_eq!(out, big);
    }
}
