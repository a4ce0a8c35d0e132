//! Sign-in by phone number and SMS code.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::geo::LatLng;

/// A mainland China mobile number: 11 digits starting 13–19. Spaces, dashes and a +86 prefix are
/// accepted on input and dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl TryFrom<String> for Phone {
    type Error = ApiError;
    fn try_from(raw: String) -> Result<Self, ApiError> {
        Phone::parse(&raw)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> Self {
        p.0
    }
}

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let digits: String = raw
            .trim()
            .trim_start_matches("+86")
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let valid = digits.len() == 11
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.starts_with('1')
            && matches!(digits.as_bytes()[1], b'3'..=b'9');
        if valid {
            Ok(Phone(digits))
        } else {
            Err(ApiError::bad_request("请输入 11 位手机号"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// "138****8000", for showing on pages and in logs.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

/// A 6-digit SMS code.
pub fn parse_code(raw: &str) -> Result<String, ApiError> {
    let code = raw.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code.to_owned())
    } else {
        Err(ApiError::bad_request("验证码是 6 位数字"))
    }
}

/// `POST /v1/auth/sms-code`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsCodeRequest {
    pub phone: String,
}

/// `202` answer to an SMS code request. `demo_code` only on a demo platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsCodeSent {
    pub phone_masked: String,
    pub expires_in_s: u32,
    pub demo_code: Option<String>,
}

/// `POST /v1/auth/login`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub phone: String,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub phone_masked: String,
}

/// A platform session. The server keeps `token` in its cookie and sends it back as a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    /// `None` for an anonymous (shopping before sign-in) session.
    pub user: Option<User>,
}

/// `GET /v1/me`: who the session belongs to; `user` is `None` before sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub user: Option<User>,
}

/// `POST /v1/me/addresses`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAddress {
    pub label: String,
    pub detail: String,
    pub lat: f64,
    pub lng: f64,
}

impl NewAddress {
    /// Trimmed, length-checked text and a valid point; what the platform stores.
    pub fn validate(&self) -> Result<NewAddress, ApiError> {
        let at = LatLng::new(self.lat, self.lng)?;
        Ok(NewAddress {
            label: clean_text("标签", &self.label, 20)?,
            detail: clean_text("详细地址", &self.detail, 100)?,
            lat: at.lat(),
            lng: at.lng(),
        })
    }
}

fn clean_text(name: &str, v: &str, max: usize) -> Result<String, ApiError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("{name}需要 1–{max} 个字")));
    }
    Ok(v.to_owned())
}

/// A saved delivery address (WGS-84).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub id: String,
    pub label: String,
    pub detail: String,
    pub lat: f64,
    pub lng: f64,
}

/// `GET /v1/me/addresses`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddressesResponse {
    pub addresses: Vec<Address>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_are_normalised_and_checked() {
        assert_eq!(
            Phone::parse("+86 138-0013-8000").unwrap().as_str(),
            "13800138000"
        );
        assert_eq!(Phone::parse("13800138000").unwrap().masked(), "138****8000");
        for bad in [
            "",
            "1380013800",
            "23800138000",
            "12800138000",
            "1380013800a",
            "138001380000",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_are_trimmed_and_checked() {
        let ok = NewAddress {
            label: " 家 ".into(),
            detail: "朝阳区 1 号楼".into(),
            lat: 39.9,
            lng: 116.4,
        };
        assert_eq!(ok.validate().unwrap().label, "家");
        for bad in [
            NewAddress {
                label: "".into(),
                ..ok.clone()
            },
            NewAddress {
                detail: "x".repeat(101),
                ..ok.clone()
            },
            NewAddress {
                detail: "a\u{0}b".into(),
                ..ok.clone()
            },
            NewAddress {
                lat: 91.0,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_are_six_digits() {
        assert_eq!(parse_code(" 123456 ").unwrap(), "123456");
        assert!(parse_code("12345").is_err());
        assert!(parse_code("12345a").is_err());
    }
}
