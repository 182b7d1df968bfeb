//! Field-by-field validation of project bodies. The first problem found is
//! reported, naming its field; nothing reaches the store unless all is well.

use super::body::kind;
use super::error::ApiError;
use crate::store::{NewProject, ProjectChange};
use serde_json::{Map, Value};

pub const NAME_MAX_CHARS: usize = 64;
pub const DESCRIPTION_MAX_CHARS: usize = 1000;
const FIELDS: [&str; 2] = ["name", "description"];

/// What the body is for: POST and PUT need every required field, PATCH
/// takes any subset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    Partial,
}

pub fn new_project(body: Map<String, Value>) -> Result<NewProject, ApiError> {
    let change = project_change(body, Mode::Full)?;
    Ok(NewProject {
        name: change.name.expect("Mode::Full requires a name"),
        description: change.description.unwrap_or_default(),
    })
}

/// For PUT (`Mode::Full`, an absent description becomes empty) and PATCH.
pub fn project_change(body: Map<String, Value>, mode: Mode) -> Result<ProjectChange, ApiError> {
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            "unknown_field",
            unknown,
            format!("unknown field {unknown:?}; a project accepts only: name, description"),
        ));
    }
    let name = match body.get("name") {
        None if mode == Mode::Full => {
            return Err(ApiError::invalid(
                "missing_field",
                "name",
                "the field \"name\" is required",
            ))
        }
        None => None,
        Some(v) => Some(name(v)?),
    };
    let description = match body.get("description") {
        None if mode == Mode::Full => Some(String::new()),
        None => None,
        Some(Value::Null) => Some(String::new()),
        Some(v) => Some(description(v)?),
    };
    Ok(ProjectChange { name, description })
}

fn string<'a>(field: &str, v: &'a Value) -> Result<&'a str, ApiError> {
    v.as_str().ok_or_else(|| {
        ApiError::invalid(
            "wrong_type",
            field,
            format!("the field {field:?} must be a string, not {}", kind(v)),
        )
    })
}

fn name(v: &Value) -> Result<String, ApiError> {
    let s = string("name", v)?;
    let chars = s.chars().count();
    if chars == 0 {
        return Err(ApiError::invalid(
            "too_short",
            "name",
            "the field \"name\" must not be empty",
        ));
    }
    if chars > NAME_MAX_CHARS {
        return Err(ApiError::invalid(
            "too_long",
            "name",
            format!("the field \"name\" is {chars} characters long; the limit is {NAME_MAX_CHARS}"),
        ));
    }
    let mut it = s.chars();
    let first_ok = it.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = it.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !(first_ok && rest_ok) {
        return Err(ApiError::invalid(
            "invalid_characters",
            "name",
            "the field \"name\" may contain only ASCII letters, digits, '.', '_' and '-', \
             and must start with a letter or digit",
        ));
    }
    Ok(s.to_string())
}

fn description(v: &Value) -> Result<String, ApiError> {
    let s = string("description", v)?;
    let chars = s.chars().count();
    if chars > DESCRIPTION_MAX_CHARS {
        return Err(ApiError::invalid(
            "too_long",
            "description",
            format!(
                "the field \"description\" is {chars} characters long; the limit is {DESCRIPTION_MAX_CHARS}"
            ),
        ));
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ApiError::invalid(
            "invalid_characters",
            "description",
            "the field \"description\" must not contain control characters (newlines and tabs are fine)",
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn err(v: Value, mode: Mode) -> (String, String) {
        let e = project_change(map(v), mode).unwrap_err();
        (e.code.to_string(), e.field.unwrap())
    }

    #[test]
    fn accepts_valid_bodies() {
        let p = new_project(map(json!({"name": "web-api_2.0"}))).unwrap();
        assert_eq!(p.description, "");
        let c = project_change(map(json!({"description": "line\nnext"})), Mode::Partial).unwrap();
        assert_eq!(c.name, None);
        assert_eq!(c.description.as_deref(), Some("line\nnext"));
        let c = project_change(map(json!({"name": "a", "description": null})), Mode::Full).unwrap();
        assert_eq!(c.description.as_deref(), Some(""));
        let long = "é".repeat(NAME_MAX_CHARS);
        assert!(name(&json!(long)).is_err(), "non-ASCII is refused");
        assert!(name(&json!("a".repeat(NAME_MAX_CHARS))).is_ok());
    }

    #[test]
    fn names_the_bad_field() {
        let e = |v| err(v, Mode::Full);
        assert_eq!(
            e(json!({"name": "a", "owner": "x"})),
            ("unknown_field".into(), "owner".into())
        );
        assert_eq!(
            e(json!({"description": "x"})),
            ("missing_field".into(), "name".into())
        );
        assert_eq!(e(json!({"name": 5})), ("wrong_type".into(), "name".into()));
        assert_eq!(
            e(json!({"name": "a", "description": []})),
            ("wrong_type".into(), "description".into())
        );
        assert_eq!(e(json!({"name": ""})), ("too_short".into(), "name".into()));
        assert_eq!(
            e(json!({"name": "a".repeat(65)})),
            ("too_long".into(), "name".into())
        );
        assert_eq!(
            e(json!({"name": "a b"})),
            ("invalid_characters".into(), "name".into())
        );
        assert_eq!(
            e(json!({"name": "-a"})),
            ("invalid_characters".into(), "name".into())
        );
        assert_eq!(
            e(json!({"name": "a", "description": "x".repeat(1001)})),
            ("too_long".into(), "description".into())
        );
        assert_eq!(
            e(json!({"name": "a", "description": "bell\u{7}"})),
            ("invalid_characters".into(), "description".into())
        );
        assert_eq!(
            err(json!({"id": 3}), Mode::Partial),
            ("unknown_field".into(), "id".into())
        );
    }
}
