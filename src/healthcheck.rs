//! `scorekeeper healthcheck`: one bounded `GET /healthz` to this machine's server, for a
//! container `HEALTHCHECK` (the runtime image has no curl).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{bail, Context};

/// How long the whole probe may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The address to probe for `listen_addr`: a wildcard bind is reached on loopback.
pub fn local_addr(listen_addr: &str) -> anyhow::Result<SocketAddr> {
    let mut addr = listen_addr
        .to_socket_addrs()
        .with_context(|| format!("LISTEN_ADDR {listen_addr} is not an address"))?
        .next()
        .with_context(|| format!("LISTEN_ADDR {listen_addr} resolves to nothing"))?;
    if addr.ip().is_unspecified() {
        let loopback: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        addr.set_ip(loopback);
    }
    Ok(addr)
}

/// `GET /healthz` at `addr`: Ok when it answers 200.
pub fn probe(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .with_context(|| format!("nothing answers at {addr}"))?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).context("no answer from /healthz")?;
    let status_line = String::from_utf8_lossy(&head[..n]);
    match status_line.split_whitespace().nth(1) {
        Some("200") => Ok(()),
        Some(status) => bail!("/healthz answered {status}"),
        None => bail!("/healthz did not answer HTTP"),
    }
}

#[cfg(test)]
mod tests {
    use super::local_addr;

    #[test]
    fn a_wildcard_bind_is_probed_on_loopback_and_a_bad_address_is_named() {
        assert_eq!(
            local_addr("0.0.0.0:8080").unwrap().to_string(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            local_addr("127.0.0.1:9000").unwrap().to_string(),
            "127.0.0.1:9000"
        );
        let err = local_addr("not an address").unwrap_err().to_string();
        assert!(err.contains("LISTEN_ADDR"), "{err}");
    }
}
