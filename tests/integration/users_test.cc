// hiectl user add|list|disable|enable|reset|remove-totp against a real hie-node, as a practice
// admin would run them with the practice's certificate; another practice's certificate is refused;
// and the accounts (with the one-time password hiectl printed) are what the node keeps in its store
// across a restart.
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/store/kv_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/domain/accounts.h"
#include "node/domain/totp.h"
#include "simdjson.h"
#include "tests/integration/daemon_fixture.h"

namespace hie::testing {
namespace {

using ::testing::AllOf;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLeePassword[] = "copper kettle on the hill";

class UsersTest : public DaemonFixture {
 protected:
  // `hiectl user WORDS...` as `who` against the node on `port`.
  CommandResult User(const std::string& who, std::vector<std::string> words) {
    words.insert(words.begin(), "user");
    return HiectlAs(who, port_, std::move(words));
  }

  std::string PasswordFile(const std::string& name, const std::string& password) {
    std::string path = Path(name);
    std::ofstream(path) << password << "\n";
    return path;
  }

  int port_ = 0;
};

TEST_F(UsersTest, AddListDisableEnableAndResetThroughHiectl) {
  port_ = StartDaemon("node");
  ASSERT_GT(port_, 0);
  std::string patient = Path("patient.json");
  std::ofstream(patient)
      << R"({"resourceType":"Patient","id":"p-1","name":[{"family":"Oyelaran","given":["Jane"]}],"birthDate":"1984-06-02"})";
  ASSERT_EQ(HiectlAs("node-a", port_, {"import", patient}).exit_code, 0);

  // A clinician, the password from a file.
  CommandResult lee =
      User("node-a", {"add", "--login", "Dr.Lee", "--name", "Dr Ana Lee", "--role", "clinician",
                      "--password-file", PasswordFile("lee.pw", kLeePassword)});
  ASSERT_EQ(lee.exit_code, 0) << lee.err;
  EXPECT_THAT(lee.out, AllOf(HasSubstr("dr.lee"), HasSubstr("clinician"),
                             HasSubstr("Dr Ana Lee (must change password)")));

  // A patient of the practice, the password on stdin.
  CommandResult jane = RunCommand(
      {"/bin/sh", "-c",
       absl::StrCat("printf 'a long walk by the river\\n' | '", BinDir(),
                    "/hiectl' user add --login jane --name 'Jane Oyelaran' --role patient "
                    "--patient p-1 --password-is-final --json --target 127.0.0.1:",
                    port_, " --ca '", Path("ca/ca.crt"), "' --cert '", Path("certs/node-a.crt"),
                    "' --key '", Path("certs/node-a.key"), "'")});
  ASSERT_EQ(jane.exit_code, 0) << jane.err;
  EXPECT_THAT(jane.out, AllOf(HasSubstr("\"login\":\"jane\""), HasSubstr("USER_ROLE_PATIENT"),
                              HasSubstr("\"patient_id\":\"p-1\"")));
  EXPECT_THAT(jane.out, Not(HasSubstr("must_change_password")));

  // What the node refuses, each with its reason.
  CommandResult no_patient = User(
      "node-a", {"add", "--login", "john", "--name", "John Doe", "--role", "patient", "--patient",
                 "p-9", "--password-file", PasswordFile("john.pw", "a long walk by the sea")});
  EXPECT_EQ(no_patient.exit_code, 1);
  EXPECT_THAT(no_patient.err, HasSubstr("holds no Patient/p-9"));
  CommandResult weak =
      User("node-a", {"add", "--login", "desk", "--name", "Front Desk", "--role", "front-desk",
                      "--password-file", PasswordFile("weak.pw", "password1234")});
  EXPECT_EQ(weak.exit_code, 1);
  EXPECT_THAT(weak.err, HasSubstr("most common passwords"));
  CommandResult taken =
      User("node-a", {"add", "--login", "dr.lee", "--name", "Another Lee", "--role", "clinician",
                      "--password-file", PasswordFile("taken.pw", "another long password")});
  EXPECT_EQ(taken.exit_code, 1);
  EXPECT_THAT(taken.err, HasSubstr("is taken"));
  // No password anywhere: stdin is empty (not a terminal), and nothing waits for it.
  CommandResult none =
      User("node-a", {"add", "--login", "desk", "--name", "Front Desk", "--role", "front-desk"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_THAT(none.err, HasSubstr("no password on stdin"));
  CommandResult bad_role =
      User("node-a", {"add", "--login", "desk", "--name", "Front Desk", "--role", "receptionist"});
  EXPECT_EQ(bad_role.exit_code, 2);
  EXPECT_THAT(bad_role.err, HasSubstr("--role must be"));
  // There is no --password flag to leak a password into ps.
  CommandResult flag = User("node-a", {"add", "--login", "desk", "--name", "Front Desk", "--role",
                                       "front-desk", "--password", "a long walk by the sea"});
  EXPECT_EQ(flag.exit_code, 2);

  CommandResult list = User("node-a", {"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out, AllOf(HasSubstr("LOGIN"), ContainsRegex("dr.lee +clinician +- +no +never"),
                              ContainsRegex("jane +patient +p-1 +no +never +Jane Oyelaran "
                                            "\\(active\\)")));
  EXPECT_THAT(list.out, Not(HasSubstr("john")));
  CommandResult json = User("node-a", {"list", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_FALSE(parser.parse(json.out).get(root)) << json.out;
  simdjson::dom::array users;
  ASSERT_FALSE(root["users"].get_array().get(users));
  ASSERT_EQ(users.size(), 2u);
  std::string_view first_login;
  ASSERT_FALSE(users.at(0)["login"].get_string().get(first_login));
  EXPECT_EQ(first_login, "dr.lee");
  EXPECT_THAT(json.out, Not(HasSubstr("argon2")));

  CommandResult disable = User("node-a", {"disable", "--login", "jane"});
  ASSERT_EQ(disable.exit_code, 0) << disable.err;
  EXPECT_THAT(disable.out, HasSubstr("(disabled)"));
  EXPECT_THAT(User("node-a", {"list"}).out, HasSubstr("Jane Oyelaran (disabled)"));
  CommandResult enable = User("node-a", {"enable", "--login", "jane", "--json"});
  ASSERT_EQ(enable.exit_code, 0) << enable.err;
  EXPECT_THAT(enable.out, Not(HasSubstr("\"disabled\":true")));
  CommandResult unknown = User("node-a", {"disable", "--login", "nobody"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("no account \"nobody\""));

  // Reset: printed once, or written to a new file only its owner reads.
  CommandResult printed = User("node-a", {"reset", "--login", "jane"});
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_THAT(printed.out, ContainsRegex("^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}\n$"));
  const std::string out_file = Path("lee-reset.txt");
  CommandResult written =
      User("node-a", {"reset", "--login", "dr.lee", "--password-out", out_file});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  EXPECT_THAT(written.out, HasSubstr("written to"));
  const std::string lee_password = ReadWholeFile(out_file).substr(0, 19);
  EXPECT_THAT(lee_password, ContainsRegex("^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$"));
  struct stat st;
  ASSERT_EQ(::stat(out_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  CommandResult exists = User("node-a", {"reset", "--login", "dr.lee", "--password-out", out_file});
  EXPECT_EQ(exists.exit_code, 1);
  EXPECT_THAT(exists.err, AllOf(HasSubstr("it exists"), HasSubstr("reset it again")));
  // That second reset happened: the file's password is no longer the account's.
  CommandResult again =
      User("node-a", {"reset", "--login", "dr.lee", "--password-out", Path("lee-2.txt")});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const std::string final_password = ReadWholeFile(Path("lee-2.txt")).substr(0, 19);

  // The exchange operator may manage them too.
  EXPECT_EQ(User("operator", {"list"}).exit_code, 0);

  // Accounts outlive a restart of the node.
  ASSERT_TRUE(processes_.at("node").Stop(SIGTERM, absl::Seconds(10)).ok());
  processes_.erase("node");
  port_ = StartDaemon("node");
  ASSERT_GT(port_, 0);
  CommandResult after = User("node-a", {"list"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_THAT(after.out, AllOf(HasSubstr("dr.lee"), HasSubstr("jane"),
                               HasSubstr("Dr Ana Lee (must change password)")));

  // The password hiectl wrote is the one the node keeps: sign in with it on the node's
  // own store (the node stopped, as the store has one owner at a time).
  ASSERT_TRUE(processes_.at("node").Stop(SIGTERM, absl::Seconds(10)).ok());
  ASSERT_OK_AND_ASSIGN(auto kv, store::KvStore::Open(Path("data/node/records")));
  ASSERT_OK_AND_ASSIGN(auto accounts, node::Accounts::Open(kv.get(), Clock::Real()));
  ASSERT_OK_AND_ASSIGN(node::SignInResult with_file,
                       accounts->Authenticate("dr.lee", lee_password));
  EXPECT_EQ(with_file.refusal, node::SignInRefusal::kBadCredentials);
  ASSERT_OK_AND_ASSIGN(node::SignInResult signed_in,
                       accounts->Authenticate("dr.lee", final_password));
  ASSERT_TRUE(signed_in.ok()) << signed_in.Message();
  EXPECT_TRUE(signed_in.account.must_change_password);
  EXPECT_EQ(signed_in.account.role, node::UserRole::kClinician);
  ASSERT_OK_AND_ASSIGN(node::SignInResult old, accounts->Authenticate("dr.lee", kLeePassword));
  EXPECT_EQ(old.refusal, node::SignInRefusal::kBadCredentials);

  // Jane's authenticator (enrolled as the web app will), then her phone is lost: the
  // admin removes it with hiectl and she signs in with her password alone.
  ASSERT_OK_AND_ASSIGN(node::TotpEnrolment enrolment, accounts->EnrolTotp("jane"));
  ASSERT_OK_AND_ASSIGN(std::string secret, node::Base32Decode(enrolment.secret_base32));
  ASSERT_OK(accounts->ConfirmTotp("jane", node::TotpCode(secret, node::TotpStep(absl::Now()))));
  accounts.reset();
  kv.reset();
  processes_.erase("node");
  port_ = StartDaemon("node");
  ASSERT_GT(port_, 0);
  EXPECT_THAT(User("node-a", {"list"}).out, ContainsRegex("jane +patient +p-1 +yes "));
  EXPECT_NE(User("node-b", {"remove-totp", "--login", "jane"}).exit_code, 0);
  CommandResult removed = User("node-a", {"remove-totp", "--login", "jane"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_THAT(removed.out, ContainsRegex("jane +patient +p-1 +no "));
}

TEST_F(UsersTest, AnotherPracticeMayNotManageTheUsers) {
  port_ = StartDaemon("node");
  ASSERT_GT(port_, 0);
  ASSERT_EQ(User("node-a", {"add", "--login", "dr.lee", "--name", "Dr Ana Lee", "--role",
                            "clinician", "--password-file", PasswordFile("lee.pw", kLeePassword)})
                .exit_code,
            0);
  for (const std::vector<std::string>& words : std::vector<std::vector<std::string>>{
           {"list"},
           {"disable", "--login", "dr.lee"},
           {"enable", "--login", "dr.lee"},
           {"reset", "--login", "dr.lee"},
           {"add", "--login", "intruder", "--name", "Intruder", "--role", "practice-admin",
            "--password-file", PasswordFile("intruder.pw", "a long walk by the sea")}}) {
    CommandResult refused = User("node-b", words);
    EXPECT_EQ(refused.exit_code, 1) << words[0];
    EXPECT_THAT(refused.err, HasSubstr("org-b may not manage its users")) << words[0];
    EXPECT_THAT(refused.out, Not(HasSubstr("dr.lee"))) << words[0];
  }
  // Nothing changed.
  CommandResult list = User("node-a", {"list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_THAT(list.out,
              AllOf(HasSubstr("Dr Ana Lee (must change password)"), Not(HasSubstr("intruder"))));
}

}  // namespace
}  // namespace hie::testing
