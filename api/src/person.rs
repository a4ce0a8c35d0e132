//! Someone shown on a public page (a comment's author, a buyer in the ticker, a group's member)
//! without saying who they are: a shopper by the last digits of their phone, or the room's host
//! by the name the host chose. Structured on the wire, so each page words it in its own language
//! ("尾号 1234" / "ending 1234", "主播 X" / "Host X") without parsing text back.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Person {
    /// A shopper: the last (up to) four digits of their phone number.
    Shopper { last_digits: String },
    /// A live room's host, by their display name.
    Host { name: String },
}

impl Person {
    /// A shopper, known to others only by the last four digits of `phone`.
    pub fn shopper(phone: &str) -> Self {
        let digits: Vec<char> = phone.chars().filter(|c| c.is_ascii_digit()).collect();
        let last_digits = digits[digits.len().saturating_sub(4)..].iter().collect();
        Person::Shopper { last_digits }
    }

    pub fn host(name: &str) -> Self {
        Person::Host {
            name: name.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shopper_is_the_last_four_digits_of_their_phone() {
        assert_eq!(
            Person::shopper("13800000001"),
            Person::Shopper {
                last_digits: "0001".into()
            }
        );
        assert_eq!(
            Person::shopper("+86 138-0000-1234"),
            Person::Shopper {
                last_digits: "1234".into()
            }
        );
        assert_eq!(
            Person::shopper("12"),
            Person::Shopper {
                last_digits: "12".into()
            }
        );
    }

    #[test]
    fn people_travel_as_tagged_objects() {
        let json = serde_json::to_string(&Person::shopper("13800001234")).unwrap();
        assert_eq!(json, r#"{"kind":"shopper","last_digits":"1234"}"#);
        let host: Person = serde_json::from_str(r#"{"kind":"host","name":"鲜果小王"}"#).unwrap();
        assert_eq!(host, Person::host("鲜果小王"));
    }
}
