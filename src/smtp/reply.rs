//! The fixed replies, with enhanced status codes (RFC 2034, RFC 3463, registry of
//! RFC 5248), in one place so a transcript and the code read the same.

pub const OK: &str = "250 2.0.0 OK";
pub const SENDER_OK: &str = "250 2.1.0 Sender OK";
pub const RECIPIENT_OK: &str = "250 2.1.5 Recipient OK";
pub const START_DATA: &str = "354 End data with <CR><LF>.<CR><LF>";
pub const BYE: &str = "221 2.0.0 Bye";
pub const START_TLS: &str = "220 2.0.0 Ready to start TLS";
pub const AUTH_OK: &str = "235 2.7.0 Authentication successful";
// RFC 5321 3.5.3: VRFY and EXPN may be answered 252 without disclosing anything.
pub const CANNOT_VRFY: &str = "252 2.5.0 Cannot verify addresses; send the message and delivery will be attempted";
pub const HELP: &str = "214 2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY EXPN";

pub const SHUTTING_DOWN: &str = "421 4.3.2 Service shutting down, closing connection";
pub const IDLE_TIMEOUT: &str = "421 4.4.2 Idle for too long, closing connection";
pub const TOO_MANY_ERRORS: &str = "421 4.7.0 Too many errors, closing connection";
pub const TEMP_FAILURE: &str = "451 4.3.0 Temporary failure, try again later";
pub const RATE_LIMITED: &str = "451 4.7.1 Sending rate exceeded, try again later";
// RFC 5321 4.5.3.1.10: more recipients than we take are deferred with 452.
pub const TOO_MANY_RECIPIENTS: &str = "452 4.5.3 Too many recipients";
// RFC 4954 6.
pub const AUTH_TEMP_FAILURE: &str = "454 4.7.0 Temporary authentication failure";

pub const UNRECOGNIZED: &str = "500 5.5.1 Command unrecognized";
pub const LINE_TOO_LONG: &str = "500 5.5.2 Line too long";
pub const NUL_IN_COMMAND: &str = "500 5.5.2 NUL byte in command line";
pub const BARE_CR_IN_COMMAND: &str = "500 5.5.2 Bare CR in command line";
// RFC 4954 4.
pub const SASL_TOO_LONG: &str = "500 5.5.6 Authentication exchange line is too long";
pub const SYNTAX: &str = "501 5.5.2 Syntax error";
pub const BAD_SENDER_SYNTAX: &str = "501 5.1.7 Bad sender address syntax";
pub const BAD_RECIPIENT_SYNTAX: &str = "501 5.1.3 Bad recipient address syntax";
pub const BAD_BASE64: &str = "501 5.5.2 Cannot decode the response";
pub const AUTH_CANCELLED: &str = "501 5.0.0 Authentication cancelled";
pub const NOT_IMPLEMENTED: &str = "502 5.5.1 Command not implemented";
pub const NO_AUTH_HERE: &str = "502 5.5.1 AUTH is not available on this port; use submission";
pub const HELLO_FIRST: &str = "503 5.5.1 Send EHLO or HELO first";
pub const EHLO_FIRST: &str = "503 5.5.1 Send EHLO first";
pub const NESTED_MAIL: &str = "503 5.5.1 Sender already given; RSET first";
pub const MAIL_FIRST: &str = "503 5.5.1 Send MAIL first";
pub const ALREADY_AUTHENTICATED: &str = "503 5.5.1 Already authenticated";
pub const AUTH_IN_TRANSACTION: &str = "503 5.5.1 AUTH is not allowed during a mail transaction";
pub const TLS_ACTIVE: &str = "503 5.5.1 TLS is already active";
pub const DATA_AFTER_BDAT: &str = "503 5.5.1 DATA cannot follow BDAT";
pub const BDAT_WITHOUT_TRANSACTION: &str = "503 5.5.1 Send MAIL and RCPT before BDAT";
pub const UNKNOWN_MECHANISM: &str = "504 5.5.4 Unrecognized authentication mechanism";
// RFC 4954 6.
pub const ACCOUNT_DISABLED: &str = "525 5.7.13 Account disabled";
// RFC 3207 4, RFC 4954 4.
pub const TLS_FIRST: &str = "530 5.7.0 Must issue a STARTTLS command first";
pub const AUTH_REQUIRED: &str = "530 5.7.0 Authentication required";
pub const AUTH_FAILED: &str = "535 5.7.8 Authentication credentials invalid";
// RFC 4954 6: no plaintext passwords.
pub const ENCRYPTION_REQUIRED: &str = "538 5.7.11 Encryption required for requested authentication mechanism";
pub const NO_SUCH_USER: &str = "550 5.1.1 No such user here";
pub const MAILBOX_DISABLED: &str = "550 5.2.1 Mailbox disabled, not accepting messages";
pub const SENDER_DISABLED: &str = "550 5.2.1 Inbox disabled, cannot send";
pub const RELAY_DENIED: &str = "550 5.7.1 Relaying denied";
pub const REMOTE_UNAVAILABLE: &str = "550 5.7.1 Delivery to other domains is not available";
pub const BAD_DOMAIN: &str = "553 5.1.2 The recipient's domain is not a valid domain name";
// RFC 1870 6.
pub const TOO_BIG: &str = "552 5.3.4 Message size exceeds fixed maximum message size";
pub const NOT_YOUR_SENDER: &str = "553 5.7.1 Sender address is not an address of the authenticated inbox";
pub const NOT_YOUR_FROM: &str = "553 5.7.1 From header is not an address of the authenticated inbox";
// RFC 6531 3.5.
pub const NEEDS_SMTPUTF8: &str = "553 5.6.7 Non-ASCII address needs the SMTPUTF8 parameter";
pub const NO_RECIPIENTS: &str = "554 5.5.1 No valid recipients";
pub const BARE_CR: &str = "554 5.6.0 Bare CR in message; lines end with CRLF (RFC 5321 2.3.8)";
pub const NUL_IN_MESSAGE: &str = "554 5.6.0 NUL byte in message";
pub const UNSUPPORTED_PARAMETER: &str = "555 5.5.4 Unsupported parameter";
