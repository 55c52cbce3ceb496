//! Checks made before anything is sent, so the visitor sees the problem at once.
//! The server checks again; these only spare a round trip.

use crate::i18n::Texts;

/// Why the identify form can't be sent yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    EmailMissing,
    EmailInvalid,
    FirstNameMissing,
    LastNameMissing,
}

impl FieldError {
    pub fn text(self, texts: &Texts) -> &'static str {
        match self {
            FieldError::EmailMissing => texts.email_missing,
            FieldError::EmailInvalid => texts.email_invalid,
            FieldError::FirstNameMissing => texts.first_name_missing,
            FieldError::LastNameMissing => texts.last_name_missing,
        }
    }
}

/// Missing or implausible (`talk_protocol::is_plausible_email`); anything subtler is the
/// server's call.
pub fn check_email(email: &str) -> Result<(), FieldError> {
    let email = email.trim();
    if email.is_empty() {
        return Err(FieldError::EmailMissing);
    }
    if talk_protocol::is_plausible_email(email) {
        Ok(())
    } else {
        Err(FieldError::EmailInvalid)
    }
}

/// Every problem with the form, in the order the fields appear.
pub fn check_identity(
    email: &str,
    first_name: &str,
    last_name: &str,
    names_required: bool,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Err(error) = check_email(email) {
        errors.push(error);
    }
    if names_required {
        if first_name.trim().is_empty() {
            errors.push(FieldError::FirstNameMissing);
        }
        if last_name.trim().is_empty() {
            errors.push(FieldError::LastNameMissing);
        }
    }
    errors
}
