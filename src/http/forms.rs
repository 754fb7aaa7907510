//! Form errors in the GOV.UK pattern: a summary at the top linking to each field, and the
//! same message beside the field.

/// One message about one field (`field` is the input's id).
#[derive(Debug, Clone)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// The errors on a submitted form, in the order the fields appear.
#[derive(Debug, Clone, Default)]
pub struct FormErrors {
    pub errors: Vec<FieldError>,
}

impl FormErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.error_for(field).is_none() {
            self.errors.push(FieldError {
                field,
                message: message.into(),
            });
        }
    }

    pub fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}
