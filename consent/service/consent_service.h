// The ConsentService gRPC service: translation between the v1 contract and the consent
// domain (directives, the Authorizer, grant keys), nothing more.
#ifndef HIE_CONSENT_SERVICE_CONSENT_SERVICE_H_
#define HIE_CONSENT_SERVICE_CONSENT_SERVICE_H_

#include <memory>

#include "common/audit/audit_log.h"
#include "common/store/kv_store.h"
#include "consent/domain/authorizer.h"
#include "consent/domain/directive_feed.h"
#include "consent/domain/directive_store.h"
#include "consent/domain/grant_keys.h"
#include "consent/domain/refusal_limiter.h"
#include "proto/hie/v1/consent.grpc.pb.h"

namespace hie::consent {

// What hie-consent keeps in its data directory and whom it calls, shared by its
// services.
struct ConsentState {
  ~ConsentState() {
    // Everything below lives in the store: close it first.
    authorizer.reset();
    feed.reset();
    directives.reset();
    keys.reset();
    audit.reset();
  }
  std::unique_ptr<store::KvStore> store;
  std::unique_ptr<DirectiveStore> directives;
  // Every directive change, for holders to stop older grants.
  std::unique_ptr<DirectiveFeed> feed;
  // Bounds the refusals audited per organisation.
  RefusalLimiter refusals;
  std::unique_ptr<GrantKeys> keys;
  // Every decision, grant, break-the-glass and directive change, hash-chained.
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<ExchangeView> exchange;
  std::unique_ptr<Authorizer> authorizer;
};

// Refusals (PERMISSION_DENIED, UNAUTHENTICATED) of PutDirective, RevokeDirective,
// ListDirectives and Authorize are audited as AUDIT_ACTION_REFUSE, at most
// RefusalLimiter's rate per organisation.
class ConsentServiceImpl final : public hie::v1::ConsentService::CallbackService {
 public:
  explicit ConsentServiceImpl(std::shared_ptr<ConsentState> state) : state_(std::move(state)) {}

  grpc::ServerUnaryReactor* PutDirective(grpc::CallbackServerContext* context,
                                         const hie::v1::PutDirectiveRequest* request,
                                         hie::v1::Directive* response) override;
  grpc::ServerUnaryReactor* RevokeDirective(grpc::CallbackServerContext* context,
                                            const hie::v1::RevokeDirectiveRequest* request,
                                            hie::v1::Directive* response) override;
  grpc::ServerUnaryReactor* ListDirectives(grpc::CallbackServerContext* context,
                                           const hie::v1::ListDirectivesRequest* request,
                                           hie::v1::ListDirectivesResponse* response) override;
  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const hie::v1::AuthorizeRequest* request,
                                      hie::v1::AuthorizeResponse* response) override;
  grpc::ServerUnaryReactor* GetPublicKeys(grpc::CallbackServerContext* context,
                                          const hie::v1::GetPublicKeysRequest* request,
                                          hie::v1::GetPublicKeysResponse* response) override;
  grpc::ServerUnaryReactor* RotateSigningKey(grpc::CallbackServerContext* context,
                                             const hie::v1::RotateSigningKeyRequest* request,
                                             hie::v1::PublicKey* response) override;
  grpc::ServerUnaryReactor* ListDirectiveChanges(
      grpc::CallbackServerContext* context, const hie::v1::ListDirectiveChangesRequest* request,
      hie::v1::ListDirectiveChangesResponse* response) override;

 private:
  // Finishes `reactor` with `status`, auditing it first if it is a refusal.
  grpc::ServerUnaryReactor* Finish(grpc::ServerUnaryReactor* reactor,
                                   const grpc::CallbackServerContext& context,
                                   absl::string_view method,
                                   const hie::v1::LocalPatientRef* patient,
                                   const absl::Status& status);

  std::shared_ptr<ConsentState> state_;
};

}  // namespace hie::consent

#endif  // HIE_CONSENT_SERVICE_CONSENT_SERVICE_H_
