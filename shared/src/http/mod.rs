//! lambda_http requests ⇄ use cases. The one place errors become status codes.
