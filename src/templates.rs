//! Compiled-in minijinja templates, shared by the public pages and the email composer.

use minijinja::Environment;

/// An environment holding compiled-in templates; names ending in `.html` auto-escape.
/// A template that does not compile is a build defect, caught by the tests.
pub fn builtin_environment(templates: &[(&'static str, &'static str)]) -> Environment<'static> {
    let mut env = Environment::new();
    for (name, source) in templates {
        if let Err(err) = env.add_template(name, source) {
            panic!("built-in template {name} does not compile: {err}");
        }
    }
    env
}
