// Ed25519 signatures: every flipped bit fails, keys round-trip, files stay private.
#include "common/crypto/signing.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/hash.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hie::crypto {
namespace {

using ::hie::testing::IsOk;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

constexpr char kMessage[] = "hie.v1.DisclosureGrant\0euid=E1;requester=org-a;purpose=TREAT";

std::string Message() { return std::string(kMessage, sizeof(kMessage) - 1); }

std::string TempPath(const std::string& name) {
  return absl::StrCat(::testing::TempDir(), "hie-crypto-test-", getpid(), "-", name);
}

TEST(HashTest, Sha256KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("abc").size(), 32u);
}

TEST(SigningTest, SignatureVerifies) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(std::string signature, key.Sign(Message()));
  EXPECT_EQ(signature.size(), 64u);
  EXPECT_OK(key.verifying_key().Verify(Message(), signature));
}

TEST(SigningTest, EveryFlippedBitOfTheMessageFails) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  const std::string message = Message();
  ASSERT_OK_AND_ASSIGN(std::string signature, key.Sign(message));
  for (size_t bit = 0; bit < message.size() * 8; ++bit) {
    std::string tampered = message;
    tampered[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    EXPECT_THAT(key.verifying_key().Verify(tampered, signature),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "bit " << bit;
  }
}

TEST(SigningTest, EveryFlippedBitOfTheSignatureFails) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(std::string signature, key.Sign(Message()));
  for (size_t bit = 0; bit < signature.size() * 8; ++bit) {
    std::string tampered = signature;
    tampered[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    EXPECT_THAT(key.verifying_key().Verify(Message(), tampered),
                StatusIs(absl::StatusCode::kUnauthenticated))
        << "bit " << bit;
  }
}

TEST(SigningTest, AnotherKeyDoesNotVerify) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(SigningKey other, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(std::string signature, key.Sign(Message()));
  EXPECT_THAT(other.verifying_key().Verify(Message(), signature),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr(other.key_id())));
}

TEST(SigningTest, MalformedSignatureIsInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  EXPECT_THAT(key.verifying_key().Verify(Message(), "short"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SigningTest, KeyIdIsSixteenHexOfThePublicKeyHash) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  EXPECT_THAT(key.key_id(), MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(key.key_id(), Sha256Hex(key.verifying_key().raw()).substr(0, 16));
}

TEST(SigningTest, PemRoundTripsKeepTheKey) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(SigningKey reloaded, SigningKey::FromPem(key.ToPem()));
  EXPECT_EQ(reloaded.key_id(), key.key_id());
  ASSERT_OK_AND_ASSIGN(VerifyingKey public_key, VerifyingKey::FromPem(key.verifying_key().ToPem()));
  EXPECT_EQ(public_key.key_id(), key.key_id());
  ASSERT_OK_AND_ASSIGN(std::string signature, reloaded.Sign(Message()));
  EXPECT_OK(public_key.Verify(Message(), signature));
}

TEST(SigningTest, Rfc8032TestVector1) {
  std::string seed =
      absl::HexStringToBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::FromRawPrivate(seed));
  EXPECT_EQ(key.public_key(), key.verifying_key().raw());
  EXPECT_EQ(absl::BytesToHexString(key.public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  ASSERT_OK_AND_ASSIGN(std::string signature, key.Sign(""));
  EXPECT_EQ(absl::BytesToHexString(signature),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
            "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

TEST(SigningTest, NonEd25519KeysAreRefused) {
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PKCS8PrivateKey(bio, ec, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(ec);
  EXPECT_THAT(SigningKey::FromPem(pem),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an Ed25519")));
  EXPECT_THAT(SigningKey::FromPem("garbage"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SigningTest, KeyFilesAreWrittenPrivateAndLoadedOnlyIfPrivate) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  std::string path = TempPath("signing.key");
  ASSERT_OK(key.WriteFile(path));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(SigningKey loaded, SigningKey::LoadFile(path));
  EXPECT_EQ(loaded.key_id(), key.key_id());

  chmod(path.c_str(), 0644);
  EXPECT_THAT(SigningKey::LoadFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("mode 0644")));
  std::filesystem::remove(path);
  EXPECT_THAT(SigningKey::LoadFile(path), StatusIs(absl::StatusCode::kNotFound));
}

TEST(SigningTest, KeyFileMustHaveNoGroupOrOtherAccess) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  std::string path = TempPath("group.key");
  ASSERT_OK(key.WriteFile(path));
  chmod(path.c_str(), 0640);
  EXPECT_THAT(SigningKey::LoadFile(path),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));
  std::filesystem::remove(path);
}

TEST(SigningTest, UnparseableKeyFileIsInvalidArgumentNamingThePath) {
  std::string path = TempPath("garbage.key");
  {
    std::ofstream out(path);
    out << "not a key\n";
  }
  chmod(path.c_str(), 0600);
  EXPECT_THAT(SigningKey::LoadFile(path),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(path)));
  std::filesystem::remove(path);
}

TEST(SigningTest, WriteFileReplacesAtomicallyAndLeavesNoTemporaryFiles) {
  ASSERT_OK_AND_ASSIGN(SigningKey first, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(SigningKey second, SigningKey::Generate());
  std::string dir = TempPath("dir");
  std::filesystem::create_directories(dir);
  std::string path = dir + "/signing.key";
  ASSERT_OK(first.WriteFile(path));
  ASSERT_OK(second.WriteFile(path));
  ASSERT_OK_AND_ASSIGN(SigningKey loaded, SigningKey::LoadFile(path));
  EXPECT_EQ(loaded.key_id(), second.key_id());
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(dir);
}

TEST(SigningTest, ConcurrentSignsAllVerify) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  std::vector<std::thread> threads;
  std::vector<int> failures(8, 0);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&key, &failures, t] {
      for (int i = 0; i < 200; ++i) {
        std::string message = absl::StrCat("message ", t, " ", i);
        auto signature = key.Sign(message);
        if (!signature.ok() || !key.verifying_key().Verify(message, *signature).ok()) {
          ++failures[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < 8; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(SigningTest, SigningIsDeterministic) {
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(std::string a, key.Sign(Message()));
  ASSERT_OK_AND_ASSIGN(std::string b, key.Sign(Message()));
  EXPECT_EQ(a, b);
}

TEST(VerifyingKeyTest, FromRawRejectsWrongLengthAndKeepsTheKeyId) {
  EXPECT_THAT(VerifyingKey::FromRaw("short"), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(SigningKey key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(VerifyingKey public_key, VerifyingKey::FromRaw(key.public_key()));
  EXPECT_EQ(public_key.key_id(), key.key_id());
  EXPECT_EQ(public_key.key_id(), KeyIdOf(key.public_key()));
  EXPECT_THAT(VerifyingKey::FromPem("garbage"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyRingTest, VerifiesByKeyIdAcrossRotation) {
  ASSERT_OK_AND_ASSIGN(SigningKey old_key, SigningKey::Generate());
  ASSERT_OK_AND_ASSIGN(SigningKey new_key, SigningKey::Generate());
  KeyRing ring;
  ring.Add(old_key.verifying_key());
  ring.Add(new_key.verifying_key());
  ring.Add(new_key.verifying_key());
  EXPECT_EQ(ring.size(), 2u);
  ASSERT_OK_AND_ASSIGN(std::string old_signature, old_key.Sign(Message()));
  EXPECT_OK(ring.Verify(old_key.key_id(), Message(), old_signature));
  // The right signature under the wrong key id fails.
  EXPECT_THAT(ring.Verify(new_key.key_id(), Message(), old_signature),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(ring.Verify("0123456789abcdef", Message(), old_signature),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown signing key")));
}

}  // namespace
}  // namespace hie::crypto
