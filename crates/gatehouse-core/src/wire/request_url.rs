//! The parts of a request's URL the gateway routes and binds by, cut from the URL the runtime
//! hands over (`Request.url`, already serialized by the WHATWG URL Standard §4.5: lower-case
//! scheme and host, default port dropped, path percent-encoded, no fragment sent). Cutting that
//! string is enough; a full URL parser would only parse again what the runtime parsed, and it
//! costs the Worker its Unicode tables.

/// `scheme://host[:port]`, the host, the path and `?query` (or empty) of a serialized URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub origin: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

/// Cuts a serialized absolute URL with an authority; `None` for anything else.
pub fn split(url: &str) -> Option<UrlParts<'_>> {
    let scheme_end = url.find("://")?;
    let scheme = &url[..scheme_end];
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    let after = scheme_end + 3;
    let rest = &url[after..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    // User information is not part of the origin (WHATWG URL §4.1 "origin").
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_port = &authority[host_start..];
    if host_port.is_empty() {
        return None;
    }
    let host = match host_port.strip_prefix('[') {
        Some(v6) => &host_port[..v6.find(']')? + 2],
        None => host_port.split(':').next().unwrap_or(host_port),
    };
    let tail = &rest[authority_len..];
    let tail = &tail[..tail.find('#').unwrap_or(tail.len())];
    let (path, query) = match tail.find('?') {
        Some(q) => (&tail[..q], &tail[q..]),
        None => (tail, ""),
    };
    // Only possible with user information, which the runtime does not send: then there is no
    // origin to trust rather than a wrong one.
    let origin = if host_start == 0 {
        &url[..after + authority_len]
    } else {
        ""
    };
    Some(UrlParts {
        origin,
        host,
        path: if path.is_empty() { "/" } else { path },
        query: if query == "?" { "" } else { query },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (String, String, String, String) {
        let p = split(url).unwrap();
        (
            p.origin.into(),
            p.host.into(),
            p.path.into(),
            p.query.into(),
        )
    }

    #[test]
    fn cuts_what_the_runtime_serializes() {
        let s = |a: &str| a.to_string();
        assert_eq!(
            parts("https://gw.example/mcp"),
            (s("https://gw.example"), s("gw.example"), s("/mcp"), s(""))
        );
        assert_eq!(
            parts("http://127.0.0.1:8787/mcp/x?a=1&b=%20#frag"),
            (
                s("http://127.0.0.1:8787"),
                s("127.0.0.1"),
                s("/mcp/x"),
                s("?a=1&b=%20")
            )
        );
        assert_eq!(
            parts("http://[::1]:8787/"),
            (s("http://[::1]:8787"), s("[::1]"), s("/"), s(""))
        );
        assert_eq!(
            parts("https://gw.example?x"),
            (s("https://gw.example"), s("gw.example"), s("/"), s("?x"))
        );
        assert_eq!(
            parts("https://gw.example/a?"),
            (s("https://gw.example"), s("gw.example"), s("/a"), s(""))
        );
    }

    #[test]
    fn user_information_never_becomes_the_origin() {
        let p = split("https://evil.example@gw.example/mcp").unwrap();
        assert_eq!((p.host, p.origin), ("gw.example", ""));
    }

    #[test]
    fn refuses_what_is_not_an_absolute_url_with_a_host() {
        for bad in [
            "",
            "/mcp",
            "mailto:x@y",
            "https:///mcp",
            "://x/",
            "ht tp://x/",
            "http://[::1/",
        ] {
            assert_eq!(split(bad), None, "{bad:?}");
        }
    }
}
