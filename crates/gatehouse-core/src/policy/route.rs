//! Picking the route for a request: the longest matching path prefix among the routes for the
//! request's host (a route without a host serves every host).

use super::Route;

/// The route and the path to send upstream (the prefix replaced by the origin's own path).
pub fn pick<'a>(routes: &'a [Route], host: &str, path: &str) -> Option<(&'a Route, String)> {
    let host = host.to_ascii_lowercase();
    let host = host.split(':').next().unwrap_or("");
    routes
        .iter()
        .filter(|r| r.host.as_deref().is_none_or(|h| h == host))
        .filter_map(|r| rest_after(&r.prefix, path).map(|rest| (r, rest)))
        .max_by_key(|(r, _)| (r.host.is_some(), r.prefix.len()))
        .map(|(r, rest)| (r, rest.to_string()))
}

fn rest_after<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/') || rest.starts_with('?')).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::tests::route;

    #[test]
    fn the_longest_prefix_wins_and_the_rest_goes_upstream() {
        let routes = [
            route("root", "/", None),
            route("files", "/files", None),
            route("deep", "/files/deep", None),
        ];
        let pick_name =
            |path: &str| pick(&routes, "gw.example", path).map(|(r, rest)| (r.name.clone(), rest));
        assert_eq!(pick_name("/mcp"), Some(("root".into(), "/mcp".into())));
        assert_eq!(
            pick_name("/files/mcp"),
            Some(("files".into(), "/mcp".into()))
        );
        assert_eq!(pick_name("/files"), Some(("files".into(), "".into())));
        assert_eq!(
            pick_name("/files/deep/mcp?x=1"),
            Some(("deep".into(), "/mcp?x=1".into()))
        );
        assert_eq!(
            pick_name("/filesystem"),
            Some(("root".into(), "/filesystem".into())),
            "a prefix ends at a segment"
        );
    }

    #[test]
    fn a_host_route_beats_a_hostless_one_and_unknown_paths_have_none() {
        let routes = [
            route("files", "/files", None),
            route("search-host", "/", Some("search.example")),
        ];
        assert_eq!(
            pick(&routes, "search.example:443", "/mcp").unwrap().0.name,
            "search-host"
        );
        assert_eq!(
            pick(&routes, "gw.example", "/files/mcp").unwrap().0.name,
            "files"
        );
        assert!(pick(&routes, "gw.example", "/mcp").is_none());
    }
}
