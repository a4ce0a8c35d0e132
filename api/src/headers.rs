//! Every header and server-sent-event name that crosses a crate boundary, so that the platform,
//! the server and the browser cannot drift apart: a rename here fails to compile everywhere else.

/// Makes `POST /v1/orders` safe to retry: the same key with the same body is answered once.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Where an event stream resumes: the last event id the client saw (browsers send it themselves).
pub const LAST_EVENT_ID: &str = "last-event-id";
/// The shopper's address as the server saw it; set by the server, read by the platform's limits.
pub const CLIENT_IP: &str = "x-jishi-client-ip";
/// Where shoppers reach the shop (`https://host`), as the server was asked; set by the server, so
/// what the platform links to (a calendar event's room) opens the shop the shopper came from.
pub const SHOP_ORIGIN: &str = "x-jishi-shop-origin";

/// The SSE event that carries one `OrderEvent` on `GET /v1/orders/{id}/events`.
pub const ORDER_EVENT: &str = "order";
/// The last SSE event of a stream that the server or platform closes because it is shutting
/// down; the client reconnects later with `Last-Event-ID`.
pub const SHUTDOWN_EVENT: &str = "shutdown";
