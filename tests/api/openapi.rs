//! The committed OpenAPI spec and the router agree on every method and path.

use std::collections::BTreeSet;

#[test]
fn the_spec_lists_exactly_the_routes_the_router_serves() {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml is YAML");
    assert!(spec["openapi"].as_str().unwrap_or("").starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().expect("paths") {
        for (method, _) in item.as_mapping().expect("path item") {
            let method = method.as_str().unwrap().to_uppercase();
            if ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
                .contains(&method.as_str())
            {
                documented.insert((method, path.as_str().unwrap().to_owned()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = scorekeeper::routes::ROUTES
        .iter()
        // The router writes a catch-all as `{file:.*}`; OpenAPI writes `{file}`.
        .map(|(m, p)| (m.to_string(), p.replace(":.*}", "}")))
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in the spec: {undocumented:?}; in the spec but not served: {unserved:?}"
    );
}
