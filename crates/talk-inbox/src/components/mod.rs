//! The inbox's screens. Every element a test needs carries a `data-testid`.

mod app;
mod bots;
mod capture_widgets;
mod contact_panel;
mod conversation_list;
mod conversation_view;
mod fields;
mod inbox;
mod quota_banner;
pub mod settings;
mod shell;
mod sign_in;
mod usage;

pub use app::{App, Auth};
pub use bots::{BotForm, BotsSection, DeliveryLog, DeliveryRow, NewBotSecrets};
pub use capture_widgets::{CaptureForm, CaptureRow, CaptureWidgetsSection};
pub use contact_panel::{ContactPanel, StartConversation};
pub use conversation_list::ConversationList;
pub use conversation_view::{Composer, MessageLine, PendingLine};
pub use fields::{focus_soon, Choice, TextField};
pub use inbox::{InboxPage, InboxState};
pub use quota_banner::{QuotaAlerts, QuotaBanner};
pub use shell::{OpenConversation, Shell};
pub use sign_in::SignInForm;
pub use usage::{
    QuotaForm, QuotaSection, UsageChart, UsagePage, UsageReportView, UsageTable, UsageTotals,
};
