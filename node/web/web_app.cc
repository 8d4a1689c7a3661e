#include "node/web/web_app.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "http/html.h"
#include "http/static_files.h"
#include "http/status.h"
#include "node/domain/account_audit.h"
#include "node/web/pages.h"
#include "node/web/qr_svg.h"
#include "node/web/web_audit.h"

namespace hie::node {

// The files of web/node/, embedded at build time (node/CMakeLists.txt: hie_embed_files).
const std::vector<http::EmbeddedFile>& NodeWebAssets();

namespace {

using http::HtmlEscape;

constexpr char kLogoutPath[] = "/app/logout";
constexpr char kPasswordPath[] = "/app/password";
constexpr char kTotpPath[] = "/app/totp";
constexpr char kTotpEnrolPath[] = "/app/totp/enrol";
constexpr char kTotpConfirmPath[] = "/app/totp/confirm";
// The sign-in form's token lives as long as one sitting at the form.
constexpr int kLoginCsrfSeconds = 15 * 60;

// The sign-in form with a fresh login-CSRF token (cookie and hidden field), and
// `message` (escaped) above it when not empty.
http::Response LoginForm(const Web& web, int status, absl::string_view message,
                         absl::string_view login) {
  const std::string token = RandomToken();
  if (token.empty()) return http::ErrorResponse(absl::InternalError("no random bytes"));
  std::string main = absl::StrCat("<h1>Sign in</h1>\n", ErrorNote(message));
  absl::StrAppend(
      &main, "<form class=\"stacked\" method=\"post\" action=\"/app/login\">\n",
      "<input type=\"hidden\" name=\"_csrf\" value=\"", HtmlEscape(token), "\">\n",
      "<label for=\"login\">Login</label>\n",
      "<input id=\"login\" name=\"login\" autocomplete=\"username\" required "
      "autocapitalize=\"none\" value=\"",
      HtmlEscape(login), "\">\n", "<label for=\"password\">Password</label>\n",
      "<input id=\"password\" name=\"password\" type=\"password\" "
      "autocomplete=\"current-password\" required>\n",
      "<label for=\"totp\">Authenticator code <span class=\"hint\">(if your account has "
      "one)</span></label>\n",
      "<input id=\"totp\" name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" "
      "pattern=\"[0-9]*\" maxlength=\"8\">\n",
      "<button type=\"submit\">Sign in</button>\n</form>");
  http::Response response = Html(status, Page(web, "Sign in", nullptr, main));
  response.headers.emplace_back("Set-Cookie",
                                Cookie(kLoginCsrfCookie, token, "/app/login", kLoginCsrfSeconds));
  return response;
}

// 429 while the login is locked (from the failure that locks it on: the client is to
// wait), 401 for every other refusal.
int RefusalStatus(const SignInResult& result) {
  return result.refusal == SignInRefusal::kLocked || result.locked_until.has_value() ? 429 : 401;
}

void HandleLogin(std::shared_ptr<const Web> web, http::Request request, http::Responder responder) {
  auto field = [&](absl::string_view name) { return Field(request, name); };
  std::string login = field("login");
  // Login CSRF: the form's hidden field must be the token of the cookie it came with.
  if (!AnonymousCsrfMatches(request, kLoginCsrfCookie)) {
    responder.Respond(LoginForm(
        *web, 403, "The sign-in form had expired or did not come from this site: try again.",
        login));
    return;
  }
  std::string password = field("password");
  std::string totp = field("totp");
  // The session the browser came with, if any, ends with the sign-in (fixation).
  std::string replaces = request.caller.session_cookie;
  bool queued =
      web->options.run([web, responder, login = std::move(login), password = std::move(password),
                        totp = std::move(totp), replaces = std::move(replaces),
                        remote = request.caller.remote_address] {
        absl::StatusOr<SignInResult> result =
            web->options.accounts->Authenticate(login, password, totp);
        if (!result.ok()) {
          responder.RespondError(result.status());
          return;
        }
        AccountEvent event{.event = "sign-in",
                           .login = login,
                           .actor = login,
                           .detail = absl::StrCat("from ", remote)};
        if (!result->ok()) {
          event.outcome = RefusalStatus(*result) == 429 ? "locked" : "refused";
          absl::StrAppend(&event.detail, ": ", result->Message());
          RespondAudited(*web, nullptr, {AccountAuditEntry(event)}, responder,
                         LoginForm(*web, RefusalStatus(*result), result->Message(), login));
          return;
        }
        absl::StatusOr<Session> session = web->options.sessions->Start(result->account, replaces);
        if (!session.ok()) {
          responder.RespondError(session.status());
          return;
        }
        http::Response response = SeeOther(kHomePath);
        response.headers.emplace_back(
            "Set-Cookie", Cookie(http::kSessionCookie, session->id, "/app", std::nullopt));
        // The sign-in form's token has done its work.
        response.headers.emplace_back("Set-Cookie", Cookie(kLoginCsrfCookie, "", "/app/login", 0));
        event.actor_role = std::string(UserRoleName(result->account.role));
        RespondAudited(*web, nullptr, {AccountAuditEntry(event)}, responder, std::move(response));
      });
  if (!queued) responder.RespondError(absl::UnavailableError("too busy to sign in: try again"));
}

void HandleLogout(const Web& web, const http::Request& request, const http::Responder& responder) {
  const http::SessionPrincipal& session = *request.caller.session;
  web.options.sessions->End(session.session_id);
  http::Response response = SeeOther(http::kLoginPath);
  response.headers.emplace_back("Set-Cookie", Cookie(http::kSessionCookie, "", "/app", 0));
  RespondAudited(
      web, &session,
      {AccountAuditEntry({.event = "sign-out",
                          .login = session.login,
                          .actor = session.login,
                          .actor_role = session.role,
                          .detail = absl::StrCat("from ", request.caller.remote_address)})},
      responder, std::move(response));
}

void HandleHome(const Web& web, const http::Request& request, const http::Responder& responder) {
  const http::SessionPrincipal& session = *request.caller.session;
  // A password an administrator chose is changed before anything else.
  absl::StatusOr<Session> live = web.options.sessions->Lookup(session.session_id);
  if (!live.ok()) {  // ended since the server admitted the request
    responder.Respond(SeeOther(http::kLoginPath));
    return;
  }
  if (live->account.must_change_password) {
    responder.Respond(SeeOther(kPasswordPath));
    return;
  }
  std::string main = absl::StrCat(
      "<h1>Welcome, ", HtmlEscape(session.display_name), "</h1>\n<p>You are signed in as <strong>",
      HtmlEscape(session.login), "</strong>, role <strong>", HtmlEscape(session.role),
      "</strong>. Your pages are in the menu above.</p>");
  responder.Respond(Html(200, Page(web, "Home", &session, main)));
}

// The password change form, with `message` (escaped) above it when not empty.
http::Response PasswordForm(const Web& web, const http::SessionPrincipal& session, int status,
                            absl::string_view message) {
  std::string main = absl::StrCat("<h1>Change your password</h1>\n", ErrorNote(message));
  absl::StrAppend(&main,
                  "<p class=\"hint\">At least 12 characters; a few unrelated words are easy to "
                  "remember.</p>\n",
                  "<form class=\"stacked\" method=\"post\" action=\"", kPasswordPath, "\">\n",
                  CsrfField(session), "\n", "<label for=\"current\">Current password</label>\n",
                  "<input id=\"current\" name=\"current\" type=\"password\" "
                  "autocomplete=\"current-password\" required>\n",
                  "<label for=\"replacement\">New password</label>\n",
                  "<input id=\"replacement\" name=\"replacement\" type=\"password\" "
                  "autocomplete=\"new-password\" minlength=\"12\" required>\n",
                  "<label for=\"confirm\">New password again</label>\n",
                  "<input id=\"confirm\" name=\"confirm\" type=\"password\" "
                  "autocomplete=\"new-password\" minlength=\"12\" required>\n",
                  "<button type=\"submit\">Change password</button>\n</form>");
  return Html(status, Page(web, "Change your password", &session, main));
}

// By the user: Accounts::ChangePassword, which ends the account's sessions; a new one
// starts for this browser.
void HandlePasswordChange(std::shared_ptr<const Web> web, http::Request request,
                          http::Responder responder) {
  auto field = [&](absl::string_view name) { return Field(request, name); };
  const http::SessionPrincipal session = *request.caller.session;
  std::string current = field("current");
  std::string replacement = field("replacement");
  if (replacement != field("confirm")) {
    responder.Respond(PasswordForm(*web, session, 400, "The two new passwords differ."));
    return;
  }
  bool queued = web->options.run([web, responder, session, current = std::move(current),
                                  replacement = std::move(replacement)] {
    absl::Status changed =
        web->options.accounts->ChangePassword(session.login, current, replacement);
    AccountEvent event{.event = "password-change",
                       .login = session.login,
                       .actor = session.login,
                       .actor_role = session.role};
    if (absl::IsUnauthenticated(changed)) {
      event.outcome = "refused";
      event.detail = "the current password was wrong";
      RespondAudited(*web, &session, {AccountAuditEntry(event)}, responder,
                     PasswordForm(*web, session, 401, "The current password is wrong."));
      return;
    }
    if (absl::IsInvalidArgument(changed) || absl::IsFailedPrecondition(changed)) {
      // The policy refused the new password: nothing changed, nothing to audit.
      responder.Respond(PasswordForm(*web, session, absl::IsInvalidArgument(changed) ? 400 : 403,
                                     changed.message()));
      return;
    }
    if (!changed.ok()) {
      responder.RespondError(changed);
      return;
    }
    absl::StatusOr<Account> account = web->options.accounts->Get(session.login);
    if (!account.ok()) {
      responder.RespondError(account.status());
      return;
    }
    absl::StatusOr<Session> fresh = web->options.sessions->Start(*account, session.session_id);
    if (!fresh.ok()) {
      responder.RespondError(fresh.status());
      return;
    }
    http::Response response = SeeOther(kHomePath);
    response.headers.emplace_back("Set-Cookie",
                                  Cookie(http::kSessionCookie, fresh->id, "/app", std::nullopt));
    RespondAudited(*web, &session, {AccountAuditEntry(event)}, responder, std::move(response));
  });
  if (!queued) responder.RespondError(absl::UnavailableError("too busy: try again"));
}

// ---- Two-step sign-in: the user sets up their own authenticator ----------------------

// The start page: whether the account has an authenticator, and the form that sets one
// up (again), which asks for the current password.
http::Response TotpPage(const Web& web, const http::SessionPrincipal& session, int status,
                        absl::string_view message, absl::string_view notice = "") {
  absl::StatusOr<Account> account = web.options.accounts->Get(session.login);
  const bool enabled = account.ok() && account->totp_enabled;
  std::string main = absl::StrCat("<h1>Two-step sign-in</h1>\n", ErrorNote(message));
  if (!notice.empty()) {
    absl::StrAppend(&main, "<p class=\"notice\" role=\"status\">", HtmlEscape(notice), "</p>\n");
  }
  absl::StrAppend(
      &main, "<p>",
      enabled ? "Your account asks for a code from your authenticator app at "
                "every sign-in. Setting up a new one replaces it once confirmed."
              : "Your account signs in with a password only. An authenticator app "
                "(any that supports TOTP) adds a six-digit code that changes "
                "every 30 seconds.",
      "</p>\n<form class=\"stacked\" method=\"post\" action=\"", kTotpEnrolPath, "\">\n",
      CsrfField(session), "\n<label for=\"current\">Current password</label>\n",
      "<input id=\"current\" name=\"current\" type=\"password\" "
      "autocomplete=\"current-password\" required>\n<button type=\"submit\">",
      enabled ? "Set up a new authenticator" : "Set up an authenticator", "</button>\n</form>");
  return Html(status, Page(web, "Two-step sign-in", &session, main));
}

// The new secret, to type or open in the authenticator, and the form that confirms it
// with a first code.
http::Response TotpSecretPage(const Web& web, const http::SessionPrincipal& session,
                              const TotpEnrolment& enrolment) {
  // Without a QR code (a URI too long for one, which ours never is) the key still is.
  const std::string qr =
      QrCodeSvg(enrolment.otpauth_uri, "QR code of your authenticator's new key").value_or("");
  std::string grouped;
  for (size_t i = 0; i < enrolment.secret_base32.size(); i += 4) {
    absl::StrAppend(&grouped, i == 0 ? "" : " ", enrolment.secret_base32.substr(i, 4));
  }
  std::string main = absl::StrCat(
      "<h1>Set up your authenticator</h1>\n",
      "<p>Scan this code with your authenticator app:</p>\n", qr,
      "<p>Or add an account in the app with this key (time-based, six digits):</p>\n"
      "<p class=\"secret\" id=\"totp-secret\">",
      HtmlEscape(grouped),
      "</p>\n<p class=\"hint\">Or open this link on the device that has the "
      "app: <a href=\"",
      HtmlEscape(enrolment.otpauth_uri), "\">", HtmlEscape(enrolment.otpauth_uri), "</a></p>\n",
      "<form class=\"stacked\" method=\"post\" action=\"", kTotpConfirmPath, "\">\n",
      CsrfField(session), "\n<label for=\"code\">The code the app shows now</label>\n",
      "<input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" "
      "pattern=\"[0-9 ]*\" maxlength=\"8\" required>\n",
      "<button type=\"submit\">Confirm</button>\n</form>");
  return Html(200, Page(web, "Set up your authenticator", &session, main));
}

void HandleTotpEnrol(std::shared_ptr<const Web> web, const http::Request& request,
                     const http::Responder& responder) {
  const http::SessionPrincipal session = *request.caller.session;
  bool queued = web->options.run([web, responder, session, current = Field(request, "current")] {
    absl::StatusOr<TotpEnrolment> enrolment =
        web->options.accounts->EnrolTotp(session.login, absl::string_view(current));
    if (absl::IsUnauthenticated(enrolment.status())) {
      responder.Respond(TotpPage(*web, session, 401, "The current password is wrong."));
      return;
    }
    if (absl::IsFailedPrecondition(enrolment.status())) {
      responder.Respond(TotpPage(*web, session, 403, enrolment.status().message()));
      return;
    }
    if (!enrolment.ok()) {
      responder.RespondError(enrolment.status());
      return;
    }
    responder.Respond(TotpSecretPage(*web, session, *enrolment));
  });
  if (!queued) responder.RespondError(absl::UnavailableError("too busy: try again"));
}

void HandleTotpConfirm(std::shared_ptr<const Web> web, const http::Request& request,
                       const http::Responder& responder) {
  const http::SessionPrincipal session = *request.caller.session;
  bool queued = web->options.run([web, responder, session, code = Field(request, "code")] {
    absl::Status confirmed = web->options.accounts->ConfirmTotp(session.login, code);
    if (absl::IsInvalidArgument(confirmed) || absl::IsFailedPrecondition(confirmed)) {
      responder.Respond(TotpPage(*web, session, 400,
                                 absl::StrCat(confirmed.message(),
                                              ". Nothing changed: set it up again to get a new "
                                              "key.")));
      return;
    }
    if (!confirmed.ok()) {
      responder.RespondError(confirmed);
      return;
    }
    RespondAudited(*web, &session,
                   {AccountAuditEntry({.event = "totp-enrol",
                                       .login = session.login,
                                       .actor = session.login,
                                       .actor_role = session.role})},
                   responder,
                   TotpPage(*web, session, 200, "",
                            "Your authenticator is set up: sign-ins now ask for its code."));
  });
  if (!queued) responder.RespondError(absl::UnavailableError("too busy: try again"));
}

}  // namespace

http::Response WebErrorPage(const std::string& practice_name, int status,
                            absl::string_view message) {
  Web web;
  web.options.practice_name = practice_name;
  return ErrorPage(web, nullptr, status, message);
}

http::SessionAuthenticator SessionAuthenticator(Sessions* sessions) {
  return [sessions](absl::string_view id) -> absl::StatusOr<http::SessionPrincipal> {
    absl::StatusOr<Session> session = sessions->Touch(id);
    if (!session.ok()) return session.status();
    return http::SessionPrincipal{.login = session->account.login,
                                  .display_name = session->account.display_name,
                                  .role = std::string(UserRoleName(session->account.role)),
                                  .csrf_token = session->csrf_token,
                                  .session_id = std::string(id)};
  };
}

absl::Status AddWebRoutes(http::Router& router, WebAppOptions options) {
  if (options.accounts == nullptr || options.sessions == nullptr || !options.run ||
      options.auditor == nullptr) {
    return absl::InvalidArgumentError(
        "the web app needs accounts, sessions, a worker pool and the audit chain");
  }
  auto web = std::make_shared<const Web>(Web{std::move(options)});
  absl::Status s = http::AddStaticRoutes(router, "/app/assets", NodeWebAssets());
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = http::kLoginPath,
                    .access = http::AccessRule::Anonymous(),
                    .audit_kind = "web-login-form",
                    .handler = [web](http::Request, http::Responder responder) {
                      responder.Respond(LoginForm(*web, 200, "", ""));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "POST",
                    .pattern = http::kLoginPath,
                    .access = http::AccessRule::Anonymous(),
                    .audit_kind = "web-login",
                    .max_body_bytes = kFormBytes,
                    .content_types = {kFormType},
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandleLogin(web, std::move(request), std::move(responder));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "POST",
                    .pattern = kLogoutPath,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-logout",
                    .max_body_bytes = kFormBytes,
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandleLogout(*web, request, responder);
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = kPasswordPath,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-password-form",
                    .handler = [web](http::Request request, http::Responder responder) {
                      responder.Respond(PasswordForm(*web, *request.caller.session, 200, ""));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "POST",
                    .pattern = kPasswordPath,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-password-change",
                    .max_body_bytes = kFormBytes,
                    .content_types = {kFormType},
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandlePasswordChange(web, std::move(request), std::move(responder));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = kHomePath,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-home",
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandleHome(*web, request, responder);
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "GET",
                    .pattern = kTotpPath,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-totp",
                    .handler = [web](http::Request request, http::Responder responder) {
                      responder.Respond(TotpPage(*web, *request.caller.session, 200, ""));
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "POST",
                    .pattern = kTotpEnrolPath,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-totp-enrol",
                    .max_body_bytes = kFormBytes,
                    .content_types = {kFormType},
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandleTotpEnrol(web, request, responder);
                    }});
  }
  if (s.ok()) {
    s = router.Add({.method = "POST",
                    .pattern = kTotpConfirmPath,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-totp-confirm",
                    .max_body_bytes = kFormBytes,
                    .content_types = {kFormType},
                    .handler = [web](http::Request request, http::Responder responder) {
                      HandleTotpConfirm(web, request, responder);
                    }});
  }
  if (s.ok()) s = AddClinicianPages(router, web);
  if (s.ok()) s = AddFrontDeskPages(router, web);
  if (s.ok()) s = AddAdminPages(router, web);
  if (s.ok()) s = AddPortalPages(router, web);
  // Any other page under /app/ is not there, which a signed-in person is told on a page
  // (the FHIR API's routes would otherwise ask them for a bearer token).
  std::string pattern = "/app";
  for (int depth = 1; s.ok() && depth <= 5; ++depth) {
    absl::StrAppend(&pattern, "/{p", depth, "}");
    s = router.Add({.method = "GET",
                    .pattern = pattern,
                    .access = http::AccessRule::Session({}),
                    .audit_kind = "web-not-found",
                    .handler = [web](http::Request request, http::Responder responder) {
                      responder.Respond(ErrorPage(*web, &*request.caller.session, 404,
                                                  "There is no such page here."));
                    }});
  }
  return s;
}

}  // namespace hie::node
