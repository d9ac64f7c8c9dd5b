//! The spec checked against what the service actually answers: every JSON response the suite
//! receives through the helpers is validated against `openapi.yaml`'s schema for that
//! operation and status code, so a field that drifts from the contract fails a test.

use std::sync::OnceLock;

use serde_json::{json, Value};

/// The spec as JSON.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        serde_yaml::from_str(include_str!("../../openapi.yaml")).expect("openapi.yaml is YAML")
    })
}

/// Follows a local `$ref` such as `#/components/responses/NotFound`.
fn resolve(node: &Value) -> &Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(pointer) => spec()
            .pointer(pointer.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("openapi.yaml: dangling $ref {pointer}")),
        None => node,
    }
}

/// The spec's path template that `path` (no query string) matches, if any.
fn template_of(path: &str) -> Option<&'static str> {
    let paths = spec()["paths"].as_object()?;
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    paths.keys().map(String::as_str).find(|template| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s)
    })
}

/// Validates one JSON response against the spec; panics naming the drift.
pub fn check(method: &str, url: &str, status: u16, body: &[u8]) {
    let path = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    let Some(template) = template_of(path) else {
        // Unknown paths answer the generic 404, checked against the error envelope.
        return check_against(
            &spec()["components"]["schemas"]["Error"],
            method,
            url,
            status,
            body,
        );
    };
    let operation = &spec()["paths"][template][method.to_lowercase()];
    if operation.is_null() {
        assert_eq!(
            status, 405,
            "{method} {template} is not in the spec but answered {status}"
        );
        return check_against(
            &spec()["components"]["schemas"]["Error"],
            method,
            url,
            status,
            body,
        );
    }
    let response = operation["responses"]
        .get(status.to_string())
        .map(resolve)
        .unwrap_or_else(|| {
            panic!("{method} {template} answered {status}, which the spec does not list")
        });
    let Some(schema) = response["content"]["application/json"].get("schema") else {
        panic!("{method} {template} answered JSON with {status}, which the spec says is not JSON");
    };
    check_against(schema, method, url, status, body);
}

fn check_against(schema: &Value, method: &str, url: &str, status: u16, body: &[u8]) {
    let instance: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{method} {url} ({status}) is not JSON: {e}"));
    // The schema with the spec's components beside it, so that its `$ref`s resolve.
    let mut root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec()["components"].clone(),
    });
    let object = root.as_object_mut().unwrap();
    for (k, v) in schema.as_object().cloned().unwrap_or_default() {
        object.insert(k, v);
    }
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| {
            panic!("the spec's schema for {method} {url} ({status}) does not compile: {e}")
        });
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {url} answered {status} with JSON that breaks the spec:\n{}\n{instance}",
        errors.join("\n")
    );
}
