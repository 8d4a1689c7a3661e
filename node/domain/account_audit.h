// The audit entries of the web app's accounts (AUDIT_ACTION_ACCOUNT): every sign-in,
// refused or not, every sign-out and password change, and every change an administrator
// makes to an account, from the web app or hiectl. Each front that acts on an account
// (the sign-in pages, the admin pages, the Users service) builds its entry here and puts
// it in the node's chain before it answers.
#ifndef HIE_NODE_DOMAIN_ACCOUNT_AUDIT_H_
#define HIE_NODE_DOMAIN_ACCOUNT_AUDIT_H_

#include <string>

#include "proto/hie/v1/audit.pb.h"

namespace hie::node {

struct AccountEvent {
  // What happened: "sign-in", "sign-out", "password-change", "add", "disable",
  // "enable", "reset", "remove-totp".
  std::string event;
  // The account acted on (its login as typed, for a refused sign-in).
  std::string login;
  // Who acted: the account's own login for its sign-in, sign-out and password change;
  // the administrator's login, or the certificate's name for hiectl.
  std::string actor;
  std::string actor_role;
  // "ok", "refused", "locked".
  std::string outcome = "ok";
  // Why a refusal, the role given, where from ("from 127.0.0.1:5555").
  std::string detail;
};

// The entry for `event` (the chain sets sequence, time and hashes; the daemon its org).
hie::v1::AuditEntry AccountAuditEntry(const AccountEvent& event);

}  // namespace hie::node

#endif  // HIE_NODE_DOMAIN_ACCOUNT_AUDIT_H_
