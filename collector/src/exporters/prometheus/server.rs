//! A minimal HTTP/1.1 server for scrapes: `GET /metrics` answers the exposition in the
//! format the `Accept` header asks for ([`Exposition::negotiate`]: text, OpenMetrics or
//! protobuf), `GET /` a pointer to it, anything
//! else 404. One request per connection; requests over 16 KiB or slower than 10 s are
//! dropped.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::exporters::prometheus::exposition::Exposition;

/// Produces a scrape body in a format.
pub type Render = Arc<dyn Fn(Exposition) -> Vec<u8> + Send + Sync>;

const MAX_REQUEST: usize = 16 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, render: Render) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let render = Arc::clone(&render);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, render)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, render: Render) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buffer = [0u8; 2048];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buffer).await?;
        if n == 0 || request.len() + n > MAX_REQUEST {
            return Ok(());
        }
        request.extend_from_slice(&buffer[..n]);
    }
    let text = String::from_utf8_lossy(&request);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let accept = lines
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("accept")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let (status, content_type, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => {
            let format = Exposition::negotiate(&accept);
            ("200 OK", format.content_type(), render(format))
        }
        ("GET", "/") => (
            "200 OK",
            "text/plain; charset=utf-8",
            b"kotel: metrics at /metrics\n".to_vec(),
        ),
        _ => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            b"not found\n".to_vec(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(&body).await?;
    }
    stream.shutdown().await
}
