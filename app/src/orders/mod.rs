//! Checkout (`/checkout/:store`: address, slot, price breakdown, place exactly once, in
//! `checkout`) and order tracking (`/orders/:id`, in `tracking`).

mod changes;
pub(crate) mod checkout;
pub mod tracking;

pub use checkout::CheckoutPage;
pub use tracking::OrderPage;
