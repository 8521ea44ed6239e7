//! Connections the simulator can cut on purpose (dropped responses, hangs, shutdown).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Cuts one connection: every later read or write on it fails.
#[derive(Debug, Default)]
pub struct KillSwitch {
    killed: AtomicBool,
    read: AtomicWaker,
    write: AtomicWaker,
}

impl KillSwitch {
    /// Cuts the connection; pending I/O wakes up and fails.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.read.wake();
        self.write.wake();
    }

    fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection cut by the simulator",
    )
}

/// A TCP stream that fails once its [`KillSwitch`] is thrown.
#[derive(Debug)]
pub struct KillableStream {
    inner: TcpStream,
    switch: Arc<KillSwitch>,
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.switch.read.register(cx.waker());
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.switch.write.register(cx.waker());
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.switch.is_killed() {
            return Poll::Ready(Err(reset()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Every live connection's switch, so shutdown can cut them all.
#[derive(Debug, Default)]
pub struct ConnectionRegistry {
    switches: Mutex<Vec<Weak<KillSwitch>>>,
}

impl ConnectionRegistry {
    fn register(&self, switch: &Arc<KillSwitch>) {
        let mut switches = self.switches.lock().unwrap_or_else(|e| e.into_inner());
        switches.retain(|w| w.strong_count() > 0);
        switches.push(Arc::downgrade(switch));
    }

    /// Cuts every open connection.
    pub fn kill_all(&self) {
        let switches = self.switches.lock().unwrap_or_else(|e| e.into_inner());
        for switch in switches.iter().filter_map(Weak::upgrade) {
            switch.kill();
        }
    }
}

/// A TCP listener producing [`KillableStream`]s.
#[derive(Debug)]
pub struct KillableListener {
    inner: TcpListener,
    registry: Arc<ConnectionRegistry>,
}

impl KillableListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener, registry: Arc<ConnectionRegistry>) -> Self {
        Self { inner, registry }
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    // Best effort: latency of small responses matters more than throughput.
                    let _ = stream.set_nodelay(true);
                    let switch = Arc::new(KillSwitch::default());
                    self.registry.register(&switch);
                    return (
                        KillableStream {
                            inner: stream,
                            switch,
                        },
                        addr,
                    );
                }
                Err(error) => {
                    tracing::debug!(%error, "simulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Per-connection information available to handlers.
#[derive(Debug, Clone)]
pub struct ConnMeta {
    /// Cuts this connection.
    pub switch: Arc<KillSwitch>,
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnMeta {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        Self {
            switch: stream.io().switch.clone(),
        }
    }
}
