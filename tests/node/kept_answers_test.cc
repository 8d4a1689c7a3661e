// The answers $everything keeps for its next pages: found only by their requester,
// gone after their time, never more than the bounds allow, freed when dropped.
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/crypto/hash.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/federated_query.h"

namespace hie::node {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;

// An answer of `records` records with a note of `bytes` bytes each.
std::shared_ptr<KeptAnswer> Answer(int records, size_t bytes, const std::string& query_id = "q") {
  std::vector<hie::v1::RecordEnvelope> envelopes;
  for (int i = 0; i < records; ++i) {
    hie::v1::RecordEnvelope r;
    r.set_source_org("org-b");
    r.set_resource_type("Observation");
    r.set_resource_id(absl::StrCat("o", i));
    std::string json = absl::StrCat(R"({"resourceType":"Observation","id":"o)", i,
                                    R"(","note":[{"text":")", std::string(bytes, 'x'), R"("}]})");
    r.set_fhir_json(json);
    r.set_content_sha256(crypto::Sha256(json));
    envelopes.push_back(std::move(r));
  }
  auto kept = std::make_shared<KeptAnswer>();
  kept->request.local_patient_id = "A1";
  kept->answer.query_id = query_id;
  kept->answer.bundle = std::make_unique<BundleWriter>(std::move(envelopes));
  return kept;
}

TEST(KeptAnswersTest, FoundOnlyByItsRequesterUnderAnUnguessableToken) {
  testing::FakeClock clock;
  KeptAnswers kept(KeptAnswersOptions(), &clock);
  std::shared_ptr<KeptAnswer> answer = Answer(3, 10);
  absl::StatusOr<std::string> token = kept.Keep("client-1\ndr-lee\nTREAT\nA1", answer);
  ASSERT_THAT(token, IsOk());
  // 32 random bytes, URL-safe: nothing in it needs escaping in a link.
  EXPECT_EQ(token->size(), 43u);
  EXPECT_EQ(
      token->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos);
  absl::StatusOr<std::shared_ptr<KeptAnswer>> found =
      kept.Find(*token, "client-1\ndr-lee\nTREAT\nA1");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->get(), answer.get());
  // Another client, another user, another purpose or patient, a token changed by one
  // character: all the same NotFound.
  for (const char* stranger : {"client-2\ndr-lee\nTREAT\nA1", "client-1\ndr-kim\nTREAT\nA1",
                               "client-1\ndr-lee\nPAYMENT\nA1", "client-1\ndr-lee\nTREAT\nA2"}) {
    EXPECT_THAT(kept.Find(*token, stranger), StatusIs(absl::StatusCode::kNotFound)) << stranger;
  }
  std::string altered = *token;
  altered[0] = altered[0] == 'A' ? 'B' : 'A';
  EXPECT_THAT(kept.Find(altered, "client-1\ndr-lee\nTREAT\nA1"),
              StatusIs(absl::StatusCode::kNotFound));
  // Each answer its own token.
  std::set<std::string> tokens = {*token};
  for (int i = 0; i < 20; ++i) {
    absl::StatusOr<std::string> another = kept.Keep("client-1\ndr-lee\nTREAT\nA1", Answer(1, 10));
    ASSERT_THAT(another, IsOk());
    EXPECT_TRUE(tokens.insert(*another).second);
  }
  EXPECT_EQ(kept.count(), 21u);
}

TEST(KeptAnswersTest, GoneAfterItsTimeAndFreed) {
  testing::FakeClock clock;
  KeptAnswersOptions options;
  options.keep_for = absl::Minutes(5);
  KeptAnswers kept(options, &clock);
  std::weak_ptr<KeptAnswer> watched;
  std::string token;
  {
    std::shared_ptr<KeptAnswer> answer = Answer(2, 1000);
    watched = answer;
    absl::StatusOr<std::string> t = kept.Keep("me", std::move(answer));
    ASSERT_THAT(t, IsOk());
    token = *t;
  }
  EXPECT_GE(kept.bytes(), 2000u);
  clock.Advance(absl::Minutes(5) - absl::Seconds(1));
  // Reading a page does not renew it.
  EXPECT_THAT(kept.Find(token, "me"), IsOk());
  EXPECT_FALSE(watched.expired());
  clock.Advance(absl::Seconds(1));
  EXPECT_THAT(kept.Find(token, "me"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(watched.expired()) << "an expired answer is let go";
  EXPECT_EQ(kept.count(), 0u);
  EXPECT_EQ(kept.bytes(), 0u);
}

TEST(KeptAnswersTest, RefusesWhatWouldPassTheBoundsUntilRoomIsMade) {
  testing::FakeClock clock;
  KeptAnswersOptions options;
  options.keep_for = absl::Minutes(5);
  options.max_total_bytes = 10000;
  options.max_answers = 3;
  KeptAnswers kept(options, &clock);
  ASSERT_THAT(kept.Keep("me", Answer(6, 1000)), IsOk());  // about 6000 bytes
  clock.Advance(absl::Minutes(1));
  std::weak_ptr<KeptAnswer> refused;
  {
    std::shared_ptr<KeptAnswer> big = Answer(5, 1000);
    refused = big;
    EXPECT_THAT(kept.Keep("me", std::move(big)), StatusIs(absl::StatusCode::kResourceExhausted));
  }
  EXPECT_TRUE(refused.expired()) << "a refused answer is not held";
  EXPECT_EQ(kept.count(), 1u);
  ASSERT_THAT(kept.Keep("me", Answer(1, 100)), IsOk());
  ASSERT_THAT(kept.Keep("me", Answer(1, 100)), IsOk());
  EXPECT_THAT(kept.Keep("me", Answer(1, 100)), StatusIs(absl::StatusCode::kResourceExhausted));
  // An answer larger than everything allowed is never kept.
  EXPECT_THAT(kept.Keep("me", Answer(11, 1000)), StatusIs(absl::StatusCode::kResourceExhausted));
  // Once the first has gone, there is room again.
  clock.Advance(absl::Minutes(4));
  EXPECT_THAT(kept.Keep("me", Answer(5, 1000)), IsOk());
  EXPECT_EQ(kept.count(), 3u);
}

TEST(KeptAnswersTest, EverythingKeptIsFreedWithTheStore) {
  testing::FakeClock clock;
  std::weak_ptr<KeptAnswer> watched;
  {
    KeptAnswers kept(KeptAnswersOptions(), &clock);
    std::shared_ptr<KeptAnswer> answer = Answer(2, 10);
    watched = answer;
    ASSERT_THAT(kept.Keep("me", std::move(answer)), IsOk());
    EXPECT_FALSE(watched.expired());
  }
  EXPECT_TRUE(watched.expired());
}

}  // namespace
}  // namespace hie::node
