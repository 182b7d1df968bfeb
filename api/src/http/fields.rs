//! Reading the ledger's JSON bodies field by field. The first problem found
//! is reported with its field, in the same codes as the project bodies.

use super::body::kind;
use super::error::ApiError;
use crate::store::model::parse_timestamp;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub struct Fields(Map<String, Value>);

/// Names (environments, stages, incident keys): what a Prometheus label
/// value or a URL path segment can carry without escaping.
pub fn is_name(s: &str, max: usize) -> bool {
    let mut chars = s.chars();
    (1..=max).contains(&s.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

fn wrong_type(field: &str, want: &str, v: &Value) -> ApiError {
    ApiError::invalid(
        "wrong_type",
        field,
        format!("the field {field:?} must be {want}, not {}", kind(v)),
    )
}

fn missing(field: &str) -> ApiError {
    ApiError::invalid(
        "missing_field",
        field,
        format!("the field {field:?} is required"),
    )
}

impl Fields {
    /// Refuses a body with a field outside `allowed`.
    pub fn new(map: Map<String, Value>, what: &str, allowed: &[&str]) -> Result<Self, ApiError> {
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::invalid(
                "unknown_field",
                unknown,
                format!(
                    "unknown field {unknown:?}; {what} accepts only: {}",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Fields(map))
    }

    /// The field, with JSON null read as absent.
    fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// Free text up to `max` characters; newlines and tabs only when `multiline`.
    pub fn text(
        &self,
        field: &str,
        max: usize,
        multiline: bool,
    ) -> Result<Option<String>, ApiError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let s = v.as_str().ok_or_else(|| wrong_type(field, "a string", v))?;
        let chars = s.chars().count();
        if chars > max {
            return Err(ApiError::invalid(
                "too_long",
                field,
                format!("the field {field:?} is {chars} characters long; the limit is {max}"),
            ));
        }
        if s.chars()
            .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
        {
            return Err(ApiError::invalid(
                "invalid_characters",
                field,
                format!("the field {field:?} must not contain control characters"),
            ));
        }
        Ok(Some(s.to_string()))
    }

    pub fn required_text(&self, field: &str, max: usize) -> Result<String, ApiError> {
        let s = self
            .text(field, max, false)?
            .ok_or_else(|| missing(field))?;
        if s.is_empty() {
            return Err(ApiError::invalid(
                "too_short",
                field,
                format!("the field {field:?} must not be empty"),
            ));
        }
        Ok(s)
    }

    /// A name as [`is_name`] defines it.
    pub fn name(&self, field: &str, max: usize) -> Result<String, ApiError> {
        let s = self.required_text(field, max)?;
        if !is_name(&s, max) {
            return Err(ApiError::invalid(
                "invalid_characters",
                field,
                format!(
                    "the field {field:?} may contain only ASCII letters, digits, '.', '_', '-' \
                     and ':', and must start with a letter or digit"
                ),
            ));
        }
        Ok(s)
    }

    pub fn integer(&self, field: &str, min: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let n = v
            .as_i64()
            .ok_or_else(|| wrong_type(field, "an integer", v))?;
        if n < min {
            return Err(ApiError::invalid(
                "out_of_range",
                field,
                format!("the field {field:?} must be at least {min}"),
            ));
        }
        Ok(Some(n))
    }

    pub fn required_integer(&self, field: &str, min: i64) -> Result<i64, ApiError> {
        self.integer(field, min)?.ok_or_else(|| missing(field))
    }

    pub fn boolean(&self, field: &str) -> Result<Option<bool>, ApiError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong_type(field, "a boolean", v)),
        }
    }

    /// An RFC 3339 time, stored in UTC at microsecond precision.
    pub fn time(&self, field: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let s = v.as_str().ok_or_else(|| wrong_type(field, "a string", v))?;
        use chrono::SubsecRound;
        parse_timestamp(s)
            .map(|t| Some(t.trunc_subsecs(6)))
            .ok_or_else(|| {
                ApiError::invalid(
                    "invalid_time",
                    field,
                    format!(
                        "the field {field:?} must be an RFC 3339 time such as 2026-12-01T10:00:00Z"
                    ),
                )
            })
    }

    pub fn required_time(&self, field: &str) -> Result<DateTime<Utc>, ApiError> {
        self.time(field)?.ok_or_else(|| missing(field))
    }

    /// One of `allowed` (a fixed vocabulary).
    pub fn choice<T>(
        &self,
        field: &str,
        allowed: &[&str],
        parse: fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ApiError> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let s = v.as_str().ok_or_else(|| wrong_type(field, "a string", v))?;
        parse(s).map(Some).ok_or_else(|| {
            ApiError::invalid(
                "invalid_value",
                field,
                format!("the field {field:?} must be one of: {}", allowed.join(", ")),
            )
        })
    }

    /// A list of one-line texts (1 to `max` characters each), at most `max_items`.
    pub fn text_list(
        &self,
        field: &str,
        max_items: usize,
        max: usize,
    ) -> Result<Vec<String>, ApiError> {
        let Some(v) = self.get(field) else {
            return Ok(Vec::new());
        };
        let items = v
            .as_array()
            .ok_or_else(|| wrong_type(field, "an array of strings", v))?;
        if items.len() > max_items {
            return Err(ApiError::invalid(
                "too_long",
                field,
                format!("the field {field:?} holds more than {max_items} items"),
            ));
        }
        items
            .iter()
            .map(|item| match item.as_str() {
                Some(s) if (1..=max).contains(&s.chars().count()) && !s.chars().any(char::is_control) => {
                    Ok(s.to_string())
                }
                _ => Err(ApiError::invalid(
                    "invalid_characters",
                    field,
                    format!("every item of {field:?} must be a string of 1 to {max} characters without control characters"),
                )),
            })
            .collect()
    }
}
