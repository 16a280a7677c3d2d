//! The Better Auth routes under `/api/auth`: the handlers take the whole application state, which the
//! auth services below them never see.

use super::{account, email, google, two_factor};
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The `/api/auth` routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(email::get_session))
        .routes(routes!(email::ok))
        .routes(routes!(email::sign_up))
        .routes(routes!(email::sign_in))
        .routes(routes!(email::sign_out))
        .routes(routes!(google::sign_in_social))
        .routes(routes!(google::callback))
        .routes(routes!(account::list_sessions))
        .routes(routes!(account::revoke_session))
        .routes(routes!(account::revoke_other_sessions))
        .routes(routes!(account::revoke_sessions))
        .routes(routes!(account::update_user))
        .routes(routes!(account::change_password))
        .routes(routes!(two_factor::enable))
        .routes(routes!(two_factor::verify_totp))
        .routes(routes!(two_factor::verify_backup_code))
        .routes(routes!(two_factor::generate_backup_codes))
        .routes(routes!(two_factor::get_totp_uri))
        .routes(routes!(two_factor::disable))
}
