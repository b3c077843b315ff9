//! The origin URL and the server-side request forgery rules it must pass.
//!
//! Host parsing follows the WHATWG URL Standard's host parser closely enough to see what the
//! runtime's `fetch` would connect to: a host whose last label is numeric is an IPv4 address in
//! decimal, octal or hex parts (`2130706433` and `0x7f.1` are both 127.0.0.1), so such spellings
//! cannot slip a private address past the check. Address ranges are those of RFC 6890 (special
//! purpose), RFC 4193 (unique local) and RFC 4291 (link-local, mapped). A DNS name is accepted as
//! written: the Workers runtime itself refuses to connect to private addresses behind a name.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A validated origin: where the gateway forwards to, without a trailing slash on the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginUrl {
    /// `scheme://host[:port]`, exactly as it goes on the wire.
    pub authority_url: String,
    /// Path prefix, `""` or starting with `/` and not ending with one.
    pub path_prefix: String,
}

impl OriginUrl {
    /// Joins a request's path and query onto the origin: `/mcp?x=1` on
    /// `https://o.example/base` is `https://o.example/base/mcp?x=1`.
    pub fn join(&self, path_and_query: &str) -> String {
        format!(
            "{}{}{}",
            self.authority_url, self.path_prefix, path_and_query
        )
    }
}

/// Why an origin URL was refused. Each maps to one line of the configuration report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginProblem {
    Unparseable,
    SchemeNotAllowed,
    HttpsRequired,
    UserinfoNotAllowed,
    QueryOrFragmentNotAllowed,
    LoopbackNeedsLocalDev,
    PrivateAddress,
    LinkLocalOrMetadata,
    UnspecifiedOrReserved,
}

impl OriginProblem {
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Unparseable => "is not an absolute http(s) URL",
            Self::SchemeNotAllowed => "must use https (or http to loopback with LOCAL_DEV=true)",
            Self::HttpsRequired => "must use https unless it is loopback and LOCAL_DEV=true",
            Self::UserinfoNotAllowed => "must not carry a user name or password",
            Self::QueryOrFragmentNotAllowed => "must not carry a query or fragment",
            Self::LoopbackNeedsLocalDev => {
                "is a loopback address, allowed only with LOCAL_DEV=true"
            }
            Self::PrivateAddress => "is a private-network address (SSRF)",
            Self::LinkLocalOrMetadata => "is a link-local or cloud metadata address (SSRF)",
            Self::UnspecifiedOrReserved => "is an unspecified, multicast or reserved address",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostClass {
    Name,
    Public,
    Loopback,
    Private,
    LinkLocal,
    Reserved,
}

/// Parses and checks `raw`. `local_dev` admits plain http to a loopback host and nothing else.
pub fn parse_origin(raw: &str, local_dev: bool) -> Result<OriginUrl, OriginProblem> {
    let raw = raw.trim();
    let (scheme, rest) = raw.split_once("://").ok_or(OriginProblem::Unparseable)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(OriginProblem::SchemeNotAllowed);
    }
    if rest.contains('?') || rest.contains('#') {
        return Err(OriginProblem::QueryOrFragmentNotAllowed);
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(OriginProblem::UserinfoNotAllowed);
    }
    let (host, port) = split_host_port(authority)?;
    let class = classify_host(&host)?;
    match class {
        HostClass::Loopback if !local_dev => return Err(OriginProblem::LoopbackNeedsLocalDev),
        HostClass::Private => return Err(OriginProblem::PrivateAddress),
        HostClass::LinkLocal => return Err(OriginProblem::LinkLocalOrMetadata),
        HostClass::Reserved => return Err(OriginProblem::UnspecifiedOrReserved),
        _ => {}
    }
    if scheme == "http" && class != HostClass::Loopback {
        return Err(OriginProblem::HttpsRequired);
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(OriginProblem::Unparseable);
    }
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Ok(OriginUrl {
        authority_url: format!("{scheme}://{host}{port}"),
        path_prefix: path.trim_end_matches('/').to_string(),
    })
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), OriginProblem> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(OriginProblem::Unparseable)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(OriginProblem::Unparseable)?),
        };
        (format!("[{}]", v6.to_ascii_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c == '%' || c == '\\')
    {
        return Err(OriginProblem::Unparseable);
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().map_err(|_| OriginProblem::Unparseable)?),
    };
    Ok((host, port))
}

fn classify_host(host: &str) -> Result<HostClass, OriginProblem> {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let addr: Ipv6Addr = v6.parse().map_err(|_| OriginProblem::Unparseable)?;
        return Ok(classify_v6(addr));
    }
    let name = host.trim_end_matches('.');
    if let Some(v4) = whatwg_ipv4(name)? {
        return Ok(classify_v4(v4));
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return Ok(HostClass::Loopback);
    }
    if name == "metadata.google.internal" || name == "metadata" {
        return Ok(HostClass::LinkLocal);
    }
    let valid = name
        .split('.')
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    if !valid {
        return Err(OriginProblem::Unparseable);
    }
    Ok(HostClass::Name)
}

/// The WHATWG "ends in a number" rule: if the last label is numeric the whole host must parse as
/// IPv4, with each part in decimal, octal (leading 0) or hex (leading 0x).
fn whatwg_ipv4(host: &str) -> Result<Option<Ipv4Addr>, OriginProblem> {
    let parts: Vec<&str> = host.split('.').collect();
    let last = parts.last().copied().unwrap_or("");
    let numeric_last = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .or_else(|| last.strip_prefix("0X"))
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())));
    if !numeric_last {
        return Ok(None);
    }
    if parts.len() > 4 {
        return Err(OriginProblem::Unparseable);
    }
    let mut numbers = Vec::with_capacity(parts.len());
    for part in &parts {
        numbers.push(parse_ipv4_number(part).ok_or(OriginProblem::Unparseable)?);
    }
    let (init, last) = numbers.split_at(numbers.len() - 1);
    if init.iter().any(|&n| n > 255) {
        return Err(OriginProblem::Unparseable);
    }
    let last_bits = 8 * (5 - numbers.len() as u32);
    if last_bits < 64 && last[0] >= 1u64 << last_bits {
        return Err(OriginProblem::Unparseable);
    }
    let mut value = last[0];
    for (i, n) in init.iter().enumerate() {
        value += n << (8 * (3 - i as u32));
    }
    Ok(Some(Ipv4Addr::from(value as u32)))
}

fn parse_ipv4_number(part: &str) -> Option<u64> {
    if part.is_empty() {
        return None;
    }
    let (digits, radix) =
        if let Some(h) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            (h, 16)
        } else if part.len() > 1 && part.starts_with('0') {
            (&part[1..], 8)
        } else {
            (part, 10)
        };
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|n| *n <= u32::MAX as u64)
}

fn classify_v4(a: Ipv4Addr) -> HostClass {
    let o = a.octets();
    if a.is_loopback() {
        HostClass::Loopback
    } else if a.is_link_local() {
        HostClass::LinkLocal
    } else if a.is_private() || (o[0] == 100 && (64..128).contains(&o[1])) {
        HostClass::Private
    } else if a.is_unspecified() || o[0] == 0 || a.is_multicast() || a.is_broadcast() || o[0] >= 240
    {
        HostClass::Reserved
    } else {
        HostClass::Public
    }
}

fn classify_v6(a: Ipv6Addr) -> HostClass {
    if let Some(v4) = a.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let first = a.segments()[0];
    if a.is_loopback() {
        HostClass::Loopback
    } else if (first & 0xffc0) == 0xfe80 {
        HostClass::LinkLocal
    } else if (first & 0xfe00) == 0xfc00 {
        HostClass::Private
    } else if a.is_unspecified() || a.is_multicast() {
        HostClass::Reserved
    } else {
        HostClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str, local_dev: bool) -> OriginProblem {
        parse_origin(raw, local_dev).unwrap_err()
    }

    #[test]
    fn https_public_origin_is_accepted_and_joined() {
        let o = parse_origin("https://mcp.example.com/base/", false).unwrap();
        assert_eq!(o.join("/mcp?x=1"), "https://mcp.example.com/base/mcp?x=1");
        let bare = parse_origin("https://MCP.example.com:8443", false).unwrap();
        assert_eq!(bare.join("/mcp"), "https://mcp.example.com:8443/mcp");
    }

    #[test]
    fn plain_http_to_a_public_host_is_refused_even_in_local_dev() {
        assert_eq!(
            refused("http://mcp.example.com", true),
            OriginProblem::HttpsRequired
        );
    }

    #[test]
    fn loopback_needs_the_local_dev_flag() {
        assert_eq!(
            refused("http://127.0.0.1:3000", false),
            OriginProblem::LoopbackNeedsLocalDev
        );
        assert_eq!(
            refused("https://localhost", false),
            OriginProblem::LoopbackNeedsLocalDev
        );
        assert!(parse_origin("http://127.0.0.1:3000", true).is_ok());
        assert!(parse_origin("http://[::1]:3000", true).is_ok());
        assert!(parse_origin("http://localhost:3000", true).is_ok());
    }

    #[test]
    fn private_ranges_are_refused() {
        for raw in [
            "https://10.0.0.1",
            "https://172.16.5.4",
            "https://192.168.1.1",
            "https://100.64.0.1",
            "https://[fd00::1]",
            "https://[::ffff:10.0.0.1]",
        ] {
            assert_eq!(refused(raw, true), OriginProblem::PrivateAddress, "{raw}");
        }
    }

    #[test]
    fn link_local_and_metadata_hosts_are_refused() {
        for raw in [
            "https://169.254.169.254/latest",
            "https://[fe80::1]",
            "https://metadata.google.internal",
        ] {
            assert_eq!(
                refused(raw, true),
                OriginProblem::LinkLocalOrMetadata,
                "{raw}"
            );
        }
    }

    #[test]
    fn numeric_spellings_of_private_addresses_are_seen_through() {
        assert_eq!(
            refused("https://2852039166", false),
            OriginProblem::LinkLocalOrMetadata
        );
        assert_eq!(
            refused("https://0xa9.0xfe.0xa9.0xfe", false),
            OriginProblem::LinkLocalOrMetadata
        );
        assert_eq!(
            refused("https://0x7f.1", false),
            OriginProblem::LoopbackNeedsLocalDev
        );
        assert_eq!(
            refused("https://012.0.0.1", false),
            OriginProblem::PrivateAddress
        );
    }

    #[test]
    fn unspecified_and_multicast_are_refused() {
        assert_eq!(
            refused("https://0.0.0.0", true),
            OriginProblem::UnspecifiedOrReserved
        );
        assert_eq!(
            refused("https://[::]", true),
            OriginProblem::UnspecifiedOrReserved
        );
        assert_eq!(
            refused("https://224.0.0.1", true),
            OriginProblem::UnspecifiedOrReserved
        );
    }

    #[test]
    fn userinfo_query_and_odd_schemes_are_refused() {
        assert_eq!(
            refused("https://u:p@mcp.example.com", false),
            OriginProblem::UserinfoNotAllowed
        );
        assert_eq!(
            refused("https://mcp.example.com/?a=1", false),
            OriginProblem::QueryOrFragmentNotAllowed
        );
        assert_eq!(
            refused("ftp://mcp.example.com", false),
            OriginProblem::SchemeNotAllowed
        );
        assert_eq!(
            refused("mcp.example.com", false),
            OriginProblem::Unparseable
        );
        assert_eq!(refused("https://", false), OriginProblem::Unparseable);
        assert_eq!(
            refused("https://bad host", false),
            OriginProblem::Unparseable
        );
        assert_eq!(
            refused("https://1.2.3.4.5", false),
            OriginProblem::Unparseable
        );
    }
}
