//! Serde types for exactly the Stripe objects Kustiq reads. Unknown fields are
//! ignored, unknown enum values parse into `Other`, and card numbers,
//! payment-method details and addresses have no field to land in.

pub(crate) mod common;

pub mod charge;
pub mod customer;
pub mod event;
pub mod invoice;
pub mod subscription;

pub use charge::{Charge, ChargeStatus, Dispute, DisputeReason, DisputeStatus, PaymentIntent};
pub use common::{Expandable, List, StripeObject};
pub use customer::{Customer, CustomerMetadata, InvoiceSettings};
pub use event::{Application, Event, EventData, EventObject, EventParseError, EventType};
pub use invoice::{
    BillingReason, Invoice, InvoiceLine, InvoiceParent, InvoicePayment, InvoicePaymentTarget,
    InvoiceStatus, LineParent, LinePricing, LineType, ParentDetails, Period, PriceDetails,
    StatusTransitions, SubscriptionDetails,
};
pub use subscription::{
    AutomaticTax, BillingScheme, CancellationDetails, CancellationReason, CollectionMethod, Coupon,
    CouponDuration, Discount, DiscountSource, Interval, PauseBehavior, PauseCollection, Price,
    Product, Recurring, Subscription, SubscriptionItem, SubscriptionStatus, TaxBehavior, TaxRate,
    Tier, TiersMode, UsageType,
};
