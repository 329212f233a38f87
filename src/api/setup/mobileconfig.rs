//! The Apple configuration profile of an inbox (`.mobileconfig`), written with the
//! plist crate: one `com.apple.mail.managed` payload, no password.

use crate::api::Call;
use crate::api::errors::ApiError;
use crate::api::inboxes;
use crate::api::json::Out;
use crate::config::Config;
use bytes::Bytes;
use hyper::StatusCode;
use hyper::header::{CONTENT_DISPOSITION, HeaderValue};
use serde::Serialize;
use uuid::Uuid;

const MOBILECONFIG_TYPE: &str = "application/x-apple-aspen-config";
/// The namespace of the mobileconfig UUIDs (UUIDv5, RFC 9562 5.5, of the inbox id's
/// hyphenated lower-case text). Never change it:
/// a device replaces an installed profile only when the new one has the same UUID.
const MOBILECONFIG_NAMESPACE: Uuid = Uuid::from_u128(0x6d61_696c_726f_4f6d_8a5e_7f1c_2b39_d04e);

/// GET /v1/inboxes/{id}/mobileconfig: the inbox's account as an Apple configuration
/// profile, without the password (the device asks for it).
pub fn mobileconfig(call: &Call<'_>, id: &str) -> Result<Out, ApiError> {
    let inbox = inboxes::visible(call, id)?;
    let email = format!("{}@{}", inbox.username, inbox.domain);
    let body = mobileconfig_plist(&call.ctx.config, &inbox, &email).map_err(ApiError::bug)?;
    let disposition =
        HeaderValue::from_str(&format!("attachment; filename=\"{email}.mobileconfig\"")).map_err(ApiError::bug)?;
    Ok(Out {
        status: StatusCode::OK,
        body: Bytes::from(body),
        content_type: MOBILECONFIG_TYPE,
        header: Some((CONTENT_DISPOSITION, disposition)),
    })
}

/// The top level of a configuration profile (Apple's Configuration Profile Reference).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Profile<'a> {
    payload_content: [MailPayload<'a>; 1],
    payload_description: String,
    payload_display_name: String,
    payload_identifier: String,
    payload_organization: &'a str,
    payload_type: &'static str,
    #[serde(rename = "PayloadUUID")]
    payload_uuid: String,
    payload_version: u32,
}

/// One `com.apple.mail.managed` payload: an IMAP account.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MailPayload<'a> {
    email_account_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_account_name: Option<&'a str>,
    email_account_type: &'static str,
    email_address: &'a str,
    incoming_mail_server_authentication: &'static str,
    incoming_mail_server_host_name: &'a str,
    incoming_mail_server_port_number: u16,
    #[serde(rename = "IncomingMailServerUseSSL")]
    incoming_mail_server_use_ssl: bool,
    incoming_mail_server_username: &'a str,
    outgoing_mail_server_authentication: &'static str,
    outgoing_mail_server_host_name: &'a str,
    outgoing_mail_server_port_number: u16,
    #[serde(rename = "OutgoingMailServerUseSSL")]
    outgoing_mail_server_use_ssl: bool,
    outgoing_mail_server_username: &'a str,
    outgoing_password_same_as_incoming_password: bool,
    payload_display_name: &'a str,
    payload_identifier: String,
    payload_type: &'static str,
    #[serde(rename = "PayloadUUID")]
    payload_uuid: String,
    payload_version: u32,
}

fn mobileconfig_plist(config: &Config, inbox: &crate::store::Inbox, email: &str) -> Result<Vec<u8>, plist::Error> {
    // The same inbox always gives the same UUIDs, so installing again replaces it.
    let profile_uuid = Uuid::new_v5(&MOBILECONFIG_NAMESPACE, inbox.id.to_string().as_bytes());
    let mail_uuid = Uuid::new_v5(&profile_uuid, b"com.apple.mail.managed");
    let identifier = format!("mailroom.{}", inbox.id);
    let public = &config.public;
    let host = config.public_host();
    let name = public.display_name.as_str();
    // The login name is the canonical address; until aliases (section 9) it is the address.
    let canonical = email;
    let profile = Profile {
        payload_content: [MailPayload {
            email_account_description: email,
            email_account_name: inbox.display_name.as_deref(),
            email_account_type: "EmailTypeIMAP",
            email_address: email,
            incoming_mail_server_authentication: "EmailAuthPassword",
            incoming_mail_server_host_name: host,
            incoming_mail_server_port_number: public.imap_port,
            incoming_mail_server_use_ssl: true,
            incoming_mail_server_username: canonical,
            outgoing_mail_server_authentication: "EmailAuthPassword",
            outgoing_mail_server_host_name: host,
            outgoing_mail_server_port_number: public.smtp_port,
            outgoing_mail_server_use_ssl: true,
            outgoing_mail_server_username: canonical,
            outgoing_password_same_as_incoming_password: true,
            payload_display_name: email,
            payload_identifier: format!("{identifier}.mail"),
            payload_type: "com.apple.mail.managed",
            payload_uuid: mail_uuid.to_string().to_uppercase(),
            payload_version: 1,
        }],
        payload_description: format!("The mail account {email} (IMAP and SMTP)."),
        payload_display_name: format!("{name} ({email})"),
        payload_identifier: identifier,
        payload_organization: name,
        payload_type: "Configuration",
        payload_uuid: profile_uuid.to_string().to_uppercase(),
        payload_version: 1,
    };
    let mut out = Vec::with_capacity(2048);
    plist::to_writer_xml(&mut out, &profile)?;
    Ok(out)
}
