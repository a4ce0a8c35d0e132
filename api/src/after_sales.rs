//! After-sales (售后): a delivered order's shopper asks for money back for what arrived missing,
//! damaged, wrong or poor, with up to three photos, within a day of delivery.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// How long after delivery a request may be made.
pub const AFTER_SALES_WINDOW_S: i64 = 24 * 60 * 60;
/// Photos per request, at most.
pub const MAX_PHOTOS: usize = 3;
/// One photo as uploaded, at most (judged by its content: JPEG, PNG or WebP).
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// A stored photo's longer side, at most: it is decoded and re-encoded at this size or smaller.
pub const PHOTO_MAX_SIDE: u32 = 1280;
/// A request whose whole body may be this large (photos and fields): the server's proxy allows
/// it on this route only.
pub const MAX_REQUEST_BYTES: usize = MAX_PHOTOS * MAX_PHOTO_BYTES + 64 * 1024;
/// The demo platform approves at once a request with a photo asking for at most this much; others
/// wait in `reviewing` for a decision.
pub const AUTO_APPROVE_MAX_FEN: i64 = 5_000;
/// A request's note, in characters.
pub const MAX_NOTE_CHARS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterSalesReason {
    Missing,
    Damaged,
    Wrong,
    Quality,
}

impl AfterSalesReason {
    pub const ALL: [AfterSalesReason; 4] = [
        AfterSalesReason::Missing,
        AfterSalesReason::Damaged,
        AfterSalesReason::Wrong,
        AfterSalesReason::Quality,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AfterSalesReason::Missing => "missing",
            AfterSalesReason::Damaged => "damaged",
            AfterSalesReason::Wrong => "wrong",
            AfterSalesReason::Quality => "quality",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        AfterSalesReason::ALL
            .into_iter()
            .find(|r| r.as_str() == raw.trim())
            .ok_or_else(|| ApiError::bad_request("售后原因应为 missing、damaged、wrong 或 quality"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterSalesStatus {
    /// Refunded.
    Approved,
    /// Waiting for a decision.
    Reviewing,
    Rejected,
}

impl AfterSalesStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AfterSalesStatus::Approved => "approved",
            AfterSalesStatus::Reviewing => "reviewing",
            AfterSalesStatus::Rejected => "rejected",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            AfterSalesStatus::Approved,
            AfterSalesStatus::Reviewing,
            AfterSalesStatus::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// A line of a request: how many of a delivered line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterSalesLine {
    pub sku: String,
    pub quantity: u32,
}

/// `POST /v1/orders/{id}/after-sales` → `201` this; also listed on the order (`after_sales`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterSales {
    pub id: String,
    pub status: AfterSalesStatus,
    /// What was (`approved`) or would be refunded.
    pub refund_fen: i64,
    /// The stored photos, re-encoded: paths on the API (`/v1/after-sales/photos/{token}`), which
    /// only the order's owner may fetch.
    pub photos: Vec<String>,
    #[serde(default)]
    pub lines: Vec<AfterSalesLine>,
    #[serde(default = "default_reason")]
    pub reason: AfterSalesReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn default_reason() -> AfterSalesReason {
    AfterSalesReason::Missing
}

/// `POST /v1/demo/after-sales/{id}/decision` (demo mode only): decides a request in `reviewing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AfterSalesDecision {
    pub approve: bool,
}

/// The form's `lines` field, as parsed from its JSON: 1–50 distinct SKUs, quantities 1–99.
pub fn check_lines(lines: &[AfterSalesLine]) -> Result<(), ApiError> {
    if lines.is_empty() || lines.len() > 50 {
        return Err(ApiError::bad_request("请选择 1–50 件要售后的商品"));
    }
    let mut seen = std::collections::HashSet::new();
    for line in lines {
        if !(1..=99).contains(&line.quantity) {
            return Err(ApiError::bad_request("售后数量应为 1–99"));
        }
        if !seen.insert(line.sku.as_str()) {
            return Err(ApiError::bad_request(format!("商品 {} 重复出现", line.sku)));
        }
    }
    Ok(())
}

/// The form's `note`: optional, one line of visible text (the comments' rules), ≤ 200 characters.
pub fn parse_note(raw: &str) -> Result<Option<String>, ApiError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    crate::text::shown_text(raw, MAX_NOTE_CHARS)
        .map(|t| Some(t.to_owned()))
        .map_err(|_| {
            ApiError::bad_request(format!(
                "说明最多 {MAX_NOTE_CHARS} 个字，不能换行或包含隐藏字符"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_reasons_and_notes_are_checked() {
        let line = |sku: &str, quantity| AfterSalesLine {
            sku: sku.into(),
            quantity,
        };
        assert!(check_lines(&[line("a", 2)]).is_ok());
        for bad in [
            vec![],
            vec![line("a", 0)],
            vec![line("a", 100)],
            vec![line("a", 1), line("a", 1)],
        ] {
            assert!(check_lines(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            AfterSalesReason::parse("damaged"),
            Ok(AfterSalesReason::Damaged)
        );
        assert!(AfterSalesReason::parse("changed my mind").is_err());
        assert_eq!(parse_note("  "), Ok(None));
        assert_eq!(parse_note("压坏了"), Ok(Some("压坏了".into())));
        assert!(parse_note("a\nb").is_err());
        assert!(parse_note(&"字".repeat(201)).is_err());
    }
}
