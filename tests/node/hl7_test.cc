// HL7 v2: the parser, MLLP framing, the mapping to FHIR and the processor that stores
// through the node's FHIR ingest path; every sample message of ../shared/data/hl7v2/.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/testing/fake_clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "node/hl7/hl7_message.h"
#include "node/hl7/hl7_processor.h"
#include "node/hl7/hl7_to_fhir.h"
#include "node/hl7/mllp_framer.h"
#include "simdjson.h"

namespace hie::node::hl7 {
namespace {

namespace fs = std::filesystem;
using ::hie::testing::StatusIs;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Segments joined by CR, as on the wire.
std::string Msg(std::initializer_list<absl::string_view> segments) {
  std::string out;
  for (auto s : segments) absl::StrAppend(&out, s, "\r");
  return out;
}

constexpr absl::string_view kMsh = "MSH|^~\\&|EMR|CLINIC|HIE|NODE|20240101120000+0100||";

// ---- Parser ----

TEST(Hl7MessageTest, SplitsFieldsRepetitionsComponentsAndSubcomponents) {
  ASSERT_OK_AND_ASSIGN(
      Hl7Message m,
      Hl7Message::Parse(Msg({absl::StrCat(kMsh, "ADT^A01^ADT_A01|C1|P|2.5.1"),
                             "PID|1||A1^^^H&1.2.3&ISO^MR~B2^^^SSA^SS||Doe&van^Jo^M"})));
  ASSERT_EQ(m.segments().size(), 2u);
  EXPECT_EQ(m.MessageCode(), "ADT");
  EXPECT_EQ(m.TriggerEvent(), "A01");
  EXPECT_EQ(m.ControlId(), "C1");
  EXPECT_EQ(m.Version(), "2.5.1");
  EXPECT_EQ(m.header().Field(1), "|");
  EXPECT_EQ(m.header().Field(2), "^~\\&");
  const Hl7Segment& pid = m.segments()[1];
  auto reps = m.Repetitions(pid.Field(3));
  ASSERT_EQ(reps.size(), 2u);
  EXPECT_EQ(m.Text(m.Component(reps[1], 1)), "B2");
  EXPECT_EQ(m.Text(m.Subcomponent(m.Component(reps[0], 4), 2)), "1.2.3");
  EXPECT_EQ(m.Value(pid, 5, 1, 1), "Doe");
  EXPECT_EQ(m.Value(pid, 5, 1, 2), "van");
  EXPECT_EQ(m.Value(pid, 5, 2), "Jo");
  EXPECT_EQ(m.Value(pid, 9), "");
}

TEST(Hl7MessageTest, EscapesAreResolvedAfterSplitting) {
  ASSERT_OK_AND_ASSIGN(
      Hl7Message m, Hl7Message::Parse(Msg({absl::StrCat(kMsh, "ORU^R01|C2|P|2.5.1"),
                                           "OBX|1|ST|X^A \\F\\ B \\S\\ C \\T\\ D \\R\\ E \\E\\ F||"
                                           "caf\\XC3A9\\ line\\.br\\two \\H\\bold\\N\\ \\Q\\"})));
  const Hl7Segment& obx = m.segments()[1];
  // An escaped delimiter never splits: component 2 is the whole text.
  EXPECT_EQ(m.Value(obx, 3, 2), "A | B ^ C & D ~ E \\ F");
  EXPECT_EQ(m.Value(obx, 3, 3), "");
  EXPECT_EQ(m.Value(obx, 5), "caf\xC3\xA9 line\ntwo bold \\Q\\");
}

TEST(Hl7MessageTest, OtherDelimitersAreHonoured) {
  ASSERT_OK_AND_ASSIGN(Hl7Message m,
                       Hl7Message::Parse("MSH#$*!@#EMR#F#H#N#2024##ADT$A08#C3#P#2.3\r"
                                         "PID#1##X9$$$AUTH@1.2@ISO*Y8##Smith$Al!F!E\r"));
  const Hl7Segment& pid = m.segments()[1];
  EXPECT_EQ(m.TriggerEvent(), "A08");
  EXPECT_EQ(m.Repetitions(pid.Field(3)).size(), 2u);
  EXPECT_EQ(m.Value(pid, 3, 4, 2), "1.2");
  EXPECT_EQ(m.Value(pid, 5, 2), "Al#E");  // !F! is the field separator
}

TEST(Hl7MessageTest, SegmentEndingsCrLfAndCrlfMixed) {
  std::string text = absl::StrCat(kMsh, "ADT^A04|C4|P|2.3\r\nEVN|A04\nPID|1||7\r\r\nPV1|1|O\r");
  ASSERT_OK_AND_ASSIGN(Hl7Message m, Hl7Message::Parse(text));
  ASSERT_EQ(m.segments().size(), 4u);
  EXPECT_EQ(m.segments()[3].id(), "PV1");
}

TEST(Hl7MessageTest, ZSegmentsAreKept) {
  ASSERT_OK_AND_ASSIGN(Hl7Message m, Hl7Message::Parse(Msg({absl::StrCat(kMsh, "ORU^R01|C5|P|2.3"),
                                                            "PID|1||7", "ZLR|1|anything^here"})));
  EXPECT_EQ(m.segments()[2].id(), "ZLR");
  EXPECT_EQ(m.Value(m.segments()[2], 2, 2), "here");
}

TEST(Hl7MessageTest, RefusesWhatItCannotReadWithoutGuessing) {
  struct Case {
    std::string text;
    std::string location;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"PID|1||7\r", "message", "does not start with an MSH"},
      {"", "message", "empty"},
      {"MSH|&&&&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\r", "MSH-2", "unusable"},
      {"MSH|^~\\|A|B|C|D|2024||ORU^R01|1|P|2.5.1\r", "MSH-2", "unusable"},
      {"MSH|^~A&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\r", "MSH-2", "unusable"},
      {"MSH|^~\\&|A|B|C|D|2024|||1|P|2.5.1\r", "MSH-9", "message type"},
      {"MSH|^~\\&|A|B|C|D|2024||ORU|1|P|2.5.1\r", "MSH-9", "trigger event"},
      {"MSH|^~\\&|A|B|C|D|2024||ORU^R01||P|2.5.1\r", "MSH-10", "control id"},
      {"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1||||||ISO IR87\r", "MSH-18", "not supported"},
      {"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1||||||ASCII\rPID|1||7||M\xC3\xBCller\r", "MSH-18",
       "not ASCII"},
      {"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\rPID|1||7||M\xFCller\r", "MSH-18", "not UTF-8"},
      {"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\rnot a segment\r", "message", "not a segment"},
      {"MSH|^~\\&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\rMSH|^~\\&|A|B\r", "MSH", "second MSH"},
  };
  for (const Case& c : cases) {
    Hl7Issue issue;
    auto parsed = Hl7Message::Parse(c.text, &issue);
    EXPECT_FALSE(parsed.ok()) << c.text;
    EXPECT_TRUE(issue.reject) << c.text;
    EXPECT_EQ(issue.Location(), c.location) << c.text;
    EXPECT_THAT(issue.reason, HasSubstr(c.reason)) << c.text;
  }
}

TEST(Hl7MessageTest, CharacterSets) {
  // Latin-1 declared: bytes become UTF-8.
  ASSERT_OK_AND_ASSIGN(Hl7Message latin1,
                       Hl7Message::Parse("MSH|^~\\&|A|B|C|D|2024||ADT^A08|1|P|2.3||||||8859/1\r"
                                         "PID|1||7||M\xFCller^J\xF6rg\r"));
  EXPECT_EQ(latin1.Value(latin1.segments()[1], 5), "M\xC3\xBCller");
  EXPECT_EQ(latin1.Value(latin1.segments()[1], 5, 2), "J\xC3\xB6rg");
  for (const char* charset : {"UNICODE UTF-8", "UNICODE", ""}) {
    ASSERT_OK_AND_ASSIGN(
        Hl7Message utf8,
        Hl7Message::Parse(absl::StrCat("MSH|^~\\&|A|B|C|D|2024||ADT^A08|1|P|2.5||||||", charset,
                                       "\rPID|1||7||\xE7\x8E\x8B^\xE5\xB0\x8F\xE6\x98\x8E\r")));
    EXPECT_EQ(utf8.Value(utf8.segments()[1], 5), "\xE7\x8E\x8B") << charset;
  }
  // A UTF-8 byte-order mark is dropped.
  ASSERT_OK_AND_ASSIGN(Hl7Message bom,
                       Hl7Message::Parse(absl::StrCat("\xEF\xBB\xBF", kMsh, "ADT^A08|1|P|2.5\r")));
  EXPECT_EQ(bom.ControlId(), "1");
}

TEST(Hl7MessageTest, SplitMessagesWithoutBatchEnvelope) {
  std::string text = absl::StrCat("FHS|^~\\&\rBHS|^~\\&\r", kMsh, "ADT^A01|1|P|2.5\rPID|1||1\r",
                                  kMsh, "ADT^A01|2|P|2.5\nPID|1||2\nBTS|2\rFTS|1\r");
  std::vector<std::string> messages = SplitMessages(text);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(absl::StartsWith(messages[1], "MSH"));
  EXPECT_THAT(messages[1], ::testing::Not(HasSubstr("BTS")));
}

// ---- MLLP ----

TEST(MllpTest, FramesAndUnframesInAnyPieces) {
  std::string a = Msg({absl::StrCat(kMsh, "ADT^A01|1|P|2.5")});
  std::string b = "MSH|x\r\nPID|1\n";
  std::string wire = absl::StrCat("\r\n", MllpFrame(a), "junk", MllpFrame(b));
  for (size_t piece : {1u, 2u, 7u, 1000u}) {
    MllpDecoder decoder(1 << 20);
    std::vector<std::string> out;
    for (size_t i = 0; i < wire.size(); i += piece) {
      ASSERT_OK(decoder.Feed(absl::string_view(wire).substr(i, piece), &out));
    }
    ASSERT_EQ(out.size(), 2u) << piece;
    EXPECT_EQ(out[0], a);
    EXPECT_EQ(out[1], b);
    EXPECT_TRUE(decoder.between_frames());
    EXPECT_EQ(decoder.skipped_bytes(), 6u);
  }
}

TEST(MllpTest, AMessagePastTheLimitFailsTheConnection) {
  MllpDecoder decoder(10);
  std::vector<std::string> out;
  ASSERT_OK(decoder.Feed(MllpFrame("0123456789"), &out));
  EXPECT_EQ(out.size(), 1u);
  EXPECT_THAT(decoder.Feed(MllpFrame("0123456789A"), &out),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(decoder.Feed(MllpFrame("1"), &out), StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(MllpTest, EndByteWithoutTrailerStillEndsTheMessage) {
  MllpDecoder decoder(100);
  std::vector<std::string> out;
  ASSERT_OK(
      decoder.Feed("\x0B"
                   "one\x1C\x0B"
                   "two\x1C\r",
                   &out));
  EXPECT_THAT(out, ::testing::ElementsAre("one", "two"));
}

// ---- Mapping ----

TEST(Hl7ToFhirTest, DateTimes) {
  EXPECT_EQ(FhirDateTime("20190713"), "2019-07-13");
  EXPECT_EQ(FhirDateTime("2019"), "2019");
  EXPECT_EQ(FhirDateTime("201907"), "2019-07");
  EXPECT_EQ(FhirDateTime("198908181126+0215"), "1989-08-18T11:26:00+02:15");
  EXPECT_EQ(FhirDateTime("20210817151943.4+0200"), "2021-08-17T15:19:43.4+02:00");
  EXPECT_EQ(FhirDateTime("20190504180447"), "2019-05-04");  // no zone: the day only
  EXPECT_EQ(FhirDateTime("01/Jun/2020 05:05:00:00"), "");
  EXPECT_EQ(FhirDateTime("20191340"), "");
  EXPECT_EQ(FhirDateTime(""), "");
}

class Hl7StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "hie-hl7-test-" + std::to_string(getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    auto kv = store::KvStore::Open(dir_);
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = std::move(*kv);
    auto labeler = Labeler::FromConfig({});
    ASSERT_TRUE(labeler.ok());
    labeler_.emplace(*std::move(labeler));
    ingester_ = std::make_unique<FhirIngester>(&*labeler_);
    records_ = std::make_unique<RecordStore>(kv_.get(), &clock_);
    auto outbox = Outbox::Open(kv_.get());
    ASSERT_TRUE(outbox.ok());
    outbox_ = std::move(*outbox);
    processor_ =
        std::make_unique<Hl7Processor>(ingester_.get(), records_.get(), kv_.get(), outbox_.get(),
                                       &clock_, Hl7ProcessorOptions{"HIE", "org-a"});
  }
  void TearDown() override {
    processor_.reset();
    outbox_.reset();
    records_.reset();
    kv_.reset();
    fs::remove_all(dir_);
  }

  // What the outbox owes the MPI, oldest first: "register <id>" or "remove <id>".
  std::vector<std::string> Owed() {
    std::vector<std::string> owed;
    auto entries = outbox_->Oldest(1000);
    EXPECT_OK(entries);
    if (!entries.ok()) return owed;
    for (const OutboxEntry& e : *entries) {
      owed.push_back(e.registration ? "register " + e.registration->local_id()
                                    : "remove " + e.removal->local_id());
    }
    return owed;
  }
  std::vector<std::string> Removals() {
    std::vector<std::string> removals;
    for (const std::string& op : Owed()) {
      if (op.rfind("remove ", 0) == 0) removals.push_back(op.substr(7));
    }
    return removals;
  }

  std::map<std::string, int> CountByType(const std::string& patient) {
    std::map<std::string, int> counts;
    EXPECT_OK(records_->ForPatient(patient, "", [&](const hie::v1::RecordEnvelope& r) {
      ++counts[r.resource_type()];
      return true;
    }));
    return counts;
  }

  std::string dir_;
  hie::testing::FakeClock clock_;
  std::unique_ptr<store::KvStore> kv_;
  std::optional<Labeler> labeler_;
  std::unique_ptr<FhirIngester> ingester_;
  std::unique_ptr<RecordStore> records_;
  std::unique_ptr<Outbox> outbox_;
  std::unique_ptr<Hl7Processor> processor_;
};

TEST_F(Hl7StoreTest, AdmitBecomesPatientEncounterAllergyConditionWithIdentifiers) {
  Hl7Outcome out = processor_->Process(Msg(
      {absl::StrCat(kMsh, "ADT^A01^ADT_A01|ADM1|P|2.5.1"), "EVN|A01|20240101120000",
       "PID|1||MRN1^^^Good Health&2.16.840.1.1&ISO^MR~123-45-6789^^^SSA^SS||"
       "M\xC3\xBCller&von^J\xC3\xBCrgen^K^^Dr^^L~Mueller^Juergen^^^^^A||19700102|M|||"
       "1 Main St^Apt 2^Springfield^IL^62701^US^H||^PRN^PH^^1^217^5550100~^NET^Internet^j@x.org",
       "NK1|1|M\xC3\xBCller^Anna|SPO^Spouse^HL70063|1 Main "
       "St^^Springfield^IL|^PRN^PH^^^217^5550101",
       "PV1|1|I|W1^101^A||||D1^House^Greg||||||||||||V123|||||||||||||||||||||||||20240101110000+"
       "0100",
       "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives~Wheeze|20200101",
       "DG1|1||I21.9^Acute MI^I10C||20240101|A", "ZPI|1|custom"}));
  ASSERT_EQ(out.ack_code, "AA") << out.ack;
  EXPECT_THAT(out.ack, HasSubstr("MSA|AA|ADM1"));
  EXPECT_TRUE(absl::StartsWith(out.ack, "MSH|^~\\&|HIE|NODE|EMR|CLINIC|"));
  EXPECT_THAT(out.ack, HasSubstr("|ACK^A01^ACK|"));
  auto counts = CountByType("MRN1");
  EXPECT_EQ(counts["Patient"], 1);
  EXPECT_EQ(counts["Encounter"], 1);
  EXPECT_EQ(counts["AllergyIntolerance"], 1);
  EXPECT_EQ(counts["Condition"], 1);
  ASSERT_OK_AND_ASSIGN(auto patient, records_->Get("Patient", "MRN1"));
  const std::string& json = patient.fhir_json();
  EXPECT_THAT(json, HasSubstr("\"system\":\"urn:oid:2.16.840.1.1\""));
  EXPECT_THAT(json, HasSubstr("\"assigner\":{\"display\":\"Good Health\"}"));
  EXPECT_THAT(json, HasSubstr("\"system\":\"http://hl7.org/fhir/sid/us-ssn\""));
  EXPECT_THAT(json, HasSubstr("\"family\":\"M\xC3\xBCller\""));
  EXPECT_THAT(json, HasSubstr("\"given\":[\"J\xC3\xBCrgen\",\"K\"]"));
  EXPECT_THAT(json, HasSubstr("\"use\":\"usual\",\"family\":\"Mueller\""));
  EXPECT_THAT(json, HasSubstr("\"birthDate\":\"1970-01-02\""));
  EXPECT_THAT(json, HasSubstr("\"value\":\"(217) 5550100\""));
  EXPECT_THAT(json, HasSubstr("\"system\":\"email\",\"value\":\"j@x.org\""));
  EXPECT_THAT(json, HasSubstr("\"contact\":[{\"relationship\""));
  EXPECT_THAT(json, HasSubstr("\"line\":[\"1 Main St\",\"Apt 2\"]"));
  // The Patient is owed to the MPI.
  ASSERT_OK_AND_ASSIGN(int64_t pending, outbox_->Pending());
  EXPECT_EQ(pending, 1);
  bool saw_encounter = false;
  EXPECT_OK(records_->ForPatient("MRN1", "Encounter", [&](const hie::v1::RecordEnvelope& r) {
    saw_encounter = true;
    EXPECT_THAT(r.fhir_json(), HasSubstr("\"status\":\"in-progress\""));
    EXPECT_THAT(r.fhir_json(), HasSubstr("\"code\":\"IMP\""));
    EXPECT_THAT(r.fhir_json(), HasSubstr("\"start\":\"2024-01-01T11:00:00+01:00\""));
    return true;
  }));
  EXPECT_TRUE(saw_encounter);
}

TEST_F(Hl7StoreTest, ResendIsAcknowledgedAgainButAppliedOnce) {
  std::string message =
      Msg({absl::StrCat(kMsh, "ADT^A08|UPD7|P|2.5"), "PID|1||P7^^^H^MR||Roe^Ann||19800101|F"});
  Hl7Outcome first = processor_->Process(message);
  ASSERT_EQ(first.ack_code, "AA");
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(first.records_changed, 1);
  clock_.Advance(absl::Minutes(1));
  // Same control id, same sender: acknowledged, not applied (even with other content).
  std::string changed =
      Msg({absl::StrCat(kMsh, "ADT^A08|UPD7|P|2.5"), "PID|1||P7^^^H^MR||Roe^Annabel||19800101|F"});
  Hl7Outcome again = processor_->Process(changed);
  EXPECT_EQ(again.ack_code, "AA");
  EXPECT_TRUE(again.duplicate);
  EXPECT_THAT(again.ack, HasSubstr("MSA|AA|UPD7"));
  ASSERT_OK_AND_ASSIGN(auto history, records_->History("Patient", "P7"));
  EXPECT_EQ(history.size(), 1u);
  ASSERT_OK_AND_ASSIGN(int64_t pending, outbox_->Pending());
  EXPECT_EQ(pending, 1);
  // Another sender with the same control id is another message.
  std::string other = absl::StrReplaceAll(changed, {{"|EMR|CLINIC|", "|LAB|CLINIC|"}});
  Hl7Outcome third = processor_->Process(other);
  EXPECT_FALSE(third.duplicate);
  ASSERT_OK_AND_ASSIGN(history, records_->History("Patient", "P7"));
  EXPECT_EQ(history.size(), 2u);
}

TEST_F(Hl7StoreTest, ControlIdIsDurableWithTheRecords) {
  std::string message =
      Msg({absl::StrCat(kMsh, "ADT^A04|REG1|P|2.5"), "PID|1||R1^^^H^MR||Poe^Edgar||18090119|M"});
  ASSERT_EQ(processor_->Process(message).ack_code, "AA");
  // A new processor over the same store (a restart) still knows the message.
  Hl7Processor restarted(ingester_.get(), records_.get(), kv_.get(), outbox_.get(), &clock_, {});
  EXPECT_TRUE(restarted.Process(message).duplicate);
}

TEST_F(Hl7StoreTest, MergeMovesRecordsAndRetiresThePatient) {
  ASSERT_EQ(processor_
                ->Process(Msg(
                    {absl::StrCat(kMsh, "ORU^R01|L1|P|2.5.1"), "PID|1||OLD1^^^H^MR||Doe^J",
                     "OBR|1||F1|24110-9^Syphilis^LN|||20240101", "OBX|1|ST|1^Note^L||text||||||F"}))
                .ack_code,
            "AA");
  ASSERT_EQ(processor_
                ->Process(Msg({absl::StrCat(kMsh, "ADT^A04|R2|P|2.5.1"),
                               "PID|1||NEW1^^^H^MR||Doe^John||19900101|M"}))
                .ack_code,
            "AA");
  EXPECT_EQ(CountByType("OLD1")["DiagnosticReport"], 1);
  Hl7Outcome merge =
      processor_->Process(Msg({absl::StrCat(kMsh, "ADT^A40^ADT_A39|M3|P|2.5.1"), "EVN|A40|20240102",
                               "PID|1||NEW1^^^H^MR||Doe^John||19900101|M", "MRG|OLD1^^^H^MR"}));
  ASSERT_EQ(merge.ack_code, "AA") << merge.ack;
  EXPECT_TRUE(merge.mpi_work_staged);
  auto survivor = CountByType("NEW1");
  EXPECT_EQ(survivor["DiagnosticReport"], 1);
  EXPECT_EQ(survivor["Observation"], 1);
  auto old = CountByType("OLD1");
  EXPECT_EQ(old["Patient"], 1);
  EXPECT_EQ(old.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto retired, records_->Get("Patient", "OLD1"));
  EXPECT_THAT(retired.fhir_json(), HasSubstr("\"active\":false"));
  EXPECT_THAT(retired.fhir_json(), HasSubstr("\"type\":\"replaced-by\""));
  ASSERT_OK_AND_ASSIGN(auto kept, records_->Get("Patient", "NEW1"));
  EXPECT_THAT(kept.fhir_json(), HasSubstr("\"type\":\"replaces\""));
  // The report (STD-labelled) now names the survivor, and kept its label.
  EXPECT_OK(records_->ForPatient("NEW1", "DiagnosticReport", [](const hie::v1::RecordEnvelope& r) {
    EXPECT_THAT(r.fhir_json(), HasSubstr("\"Patient/NEW1\""));
    EXPECT_THAT(r.sensitivity(), ::testing::Contains("STD"));
    return true;
  }));
  EXPECT_THAT(Removals(), ::testing::ElementsAre("OLD1"));
  // One ordered outbox: the retired patient's own registration goes to the MPI before
  // its removal, however long the MPI is away.
  std::vector<std::string> owed = Owed();
  auto registered = std::find(owed.begin(), owed.end(), "register OLD1");
  auto removed = std::find(owed.begin(), owed.end(), "remove OLD1");
  ASSERT_NE(registered, owed.end());
  ASSERT_NE(removed, owed.end());
  EXPECT_LT(registered, removed);
  EXPECT_EQ(processor_->SurvivorOf("OLD1"), "NEW1");
  // A later message about the retired id applies to the survivor.
  ASSERT_EQ(
      processor_
          ->Process(Msg({absl::StrCat(kMsh, "ORU^R01|L4|P|2.5.1"), "PID|1||OLD1^^^H^MR||Doe^J",
                         "OBR|1||F9|1^Panel^L", "OBX|1|NM|2^Na^L||140|mmol/L||||||F"}))
          .ack_code,
      "AA");
  EXPECT_EQ(CountByType("NEW1")["DiagnosticReport"], 2);
  EXPECT_EQ(CountByType("OLD1").size(), 1u);
}

TEST_F(Hl7StoreTest, MergeOfAPatientIntoItselfIsAnError) {
  Hl7Outcome out = processor_->Process(Msg(
      {absl::StrCat(kMsh, "ADT^A40|M9|P|2.5.1"), "PID|1||SAME^^^H^MR||Doe", "MRG|SAME^^^H^MR"}));
  EXPECT_EQ(out.ack_code, "AE");
  EXPECT_THAT(out.ack, HasSubstr("ERR|MRG^1^1^102"));
}

TEST_F(Hl7StoreTest, ResultsCarryUnitsRangesFlagsStatusAndLabels) {
  Hl7Outcome out = processor_->Process(Msg({
      absl::StrCat(kMsh, "ORU^R01^ORU_R01|LAB1|P|2.5.1"),
      "PID|1||L1^^^H^MR||Lab^Pat||19800101|F",
      "OBR|1|PL1|FL1|57021-8^CBC^LN|||20240101083000+0000|||||||||||||||20240101100000+0000|||F",
      "OBX|1|NM|718-7^Hemoglobin^LN||10.5|g/dL^grams per "
      "deciliter^UCUM|12.0-16.0|L|||F|||20240101083000+0000",
      "NTE|1||drawn late",
      "OBX|2|SN|5292-8^RPR^LN||^1^:^8||||||P",
      "OBX|3|CWE|56888-1^HIV 1+2 Ab+HIV1 p24 Ag^LN||260385009^Negative^SCT||||||C",
      "OBX|4|TX|11526-1^Note^LN||line one~line two||||||F",
      "OBX|5|SN|2345-7^Glucose^LN||<^5|mmol/L|<5.6||||F",
  }));
  ASSERT_EQ(out.ack_code, "AA") << out.ack;
  std::map<std::string, hie::v1::RecordEnvelope> by_code;
  std::vector<hie::v1::RecordEnvelope> reports;
  EXPECT_OK(records_->ForPatient("L1", "", [&](const hie::v1::RecordEnvelope& r) {
    if (r.resource_type() == "DiagnosticReport") reports.push_back(r);
    for (const char* code : {"718-7", "5292-8", "56888-1", "11526-1", "2345-7"}) {
      if (r.resource_type() == "Observation" &&
          absl::StrContains(r.fhir_json(), absl::StrCat("\"code\":\"", code, "\"")))
        by_code[code] = r;
    }
    return true;
  }));
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(by_code.size(), 5u);
  const std::string& hb = by_code["718-7"].fhir_json();
  EXPECT_THAT(hb, HasSubstr("\"valueQuantity\":{\"value\":10.5,\"unit\":\"grams per deciliter\","
                            "\"system\":\"http://unitsofmeasure.org\",\"code\":\"g/dL\"}"));
  EXPECT_THAT(hb, HasSubstr("\"low\":{\"value\":12.0"));
  EXPECT_THAT(hb, HasSubstr("\"high\":{\"value\":16.0"));
  EXPECT_THAT(hb, HasSubstr("\"code\":\"L\""));
  EXPECT_THAT(hb, HasSubstr("\"status\":\"final\""));
  EXPECT_THAT(hb, HasSubstr("\"note\":[{\"text\":\"drawn late\"}]"));
  EXPECT_THAT(by_code["5292-8"].fhir_json(), HasSubstr("\"valueRatio\""));
  EXPECT_THAT(by_code["5292-8"].fhir_json(), HasSubstr("\"status\":\"preliminary\""));
  EXPECT_THAT(by_code["5292-8"].sensitivity(), ::testing::Contains("STD"));
  EXPECT_THAT(by_code["56888-1"].sensitivity(), ::testing::Contains("HIV"));
  EXPECT_THAT(by_code["56888-1"].fhir_json(), HasSubstr("\"status\":\"corrected\""));
  EXPECT_THAT(by_code["11526-1"].fhir_json(), HasSubstr("\"valueString\":\"line one\\nline two\""));
  EXPECT_THAT(by_code["2345-7"].fhir_json(), HasSubstr("\"comparator\":\"<\""));
  // The report inherits the labels of its results.
  EXPECT_THAT(reports[0].sensitivity(), ::testing::IsSupersetOf({"HIV", "STD"}));
  EXPECT_THAT(reports[0].fhir_json(), HasSubstr("\"issued\":\"2024-01-01T10:00:00+00:00\""));
}

TEST_F(Hl7StoreTest, ContentErrorsAreAeWithSegmentAndField) {
  Hl7Outcome no_pid = processor_->Process(Msg({absl::StrCat(kMsh, "ADT^A01|E1|P|2.5"), "EVN|A01"}));
  EXPECT_EQ(no_pid.ack_code, "AE");
  EXPECT_THAT(no_pid.ack, HasSubstr("MSA|AE|E1|an ADT message needs a PID segment"));
  Hl7Outcome no_id =
      processor_->Process(Msg({absl::StrCat(kMsh, "ADT^A01|E2|P|2.5"), "PID|1||||Doe^J"}));
  EXPECT_EQ(no_id.ack_code, "AE");
  EXPECT_THAT(no_id.ack, HasSubstr("ERR|PID^1^3^101&Required field missing&HL70357|PID^1^3|101^"));
  Hl7Outcome bad_birth = processor_->Process(
      Msg({absl::StrCat(kMsh, "ADT^A01|E3|P|2.5"), "PID|1||X1||Doe^J||19701301"}));
  EXPECT_EQ(bad_birth.ack_code, "AE");
  EXPECT_THAT(bad_birth.ack, HasSubstr("ERR|PID^1^7^102"));
  // Nothing was stored, and a fixed resend of the same control id is applied.
  EXPECT_TRUE(CountByType("X1").empty());
  Hl7Outcome fixed = processor_->Process(
      Msg({absl::StrCat(kMsh, "ADT^A01|E3|P|2.5"), "PID|1||X1||Doe^J||19701201"}));
  EXPECT_EQ(fixed.ack_code, "AA");
  EXPECT_EQ(CountByType("X1")["Patient"], 1);
}

TEST_F(Hl7StoreTest, RejectionsAreArWithTheReason) {
  Hl7Outcome unsupported =
      processor_->Process(Msg({absl::StrCat(kMsh, "MDM^T02|R1|P|2.5"), "PID|1||1"}));
  EXPECT_EQ(unsupported.ack_code, "AR");
  EXPECT_THAT(unsupported.ack, HasSubstr("200^Unsupported message type^HL70357"));
  Hl7Outcome event = processor_->Process(Msg({absl::StrCat(kMsh, "ADT^A47|R2|P|2.5"), "PID|1||1"}));
  EXPECT_EQ(event.ack_code, "AR");
  EXPECT_THAT(event.ack, HasSubstr("201^Unsupported event code"));
  Hl7Outcome garbage = processor_->Process("hello");
  EXPECT_EQ(garbage.ack_code, "AR");
  EXPECT_THAT(garbage.ack, HasSubstr("MSA|AR||the message does not start with an MSH segment"));
  // The reason is escaped in the ACK's delimiters.
  Hl7Outcome delimiters =
      processor_->Process("MSH|&&&&|A|B|C|D|2024||ORU^R01|1|P|2.5.1\rPID|1||7\r");
  EXPECT_EQ(delimiters.ack_code, "AR");
  EXPECT_THAT(delimiters.ack, HasSubstr("MSH-2 encoding characters \"\\T\\\\T\\\\T\\\\T\\\" are"));
}

// ---- The shared sample messages ----

struct Expected {
  std::vector<std::string> acks;  // one per message
  std::string reason;             // in the ERR of a refusal
};

const std::map<std::string, Expected>& Refusals() {
  static const auto* m = new std::map<std::string, Expected>{
      {"cdc-ORU-Lyme-bad-delimiters.hl7", {{"AR"}, "MSH-2 encoding characters"}},
      {"cdc-ORU-PHLIP_FLU-missing-MSH9.hl7", {{"AR"}, "MSH-9 (message type) is empty"}},
      {"cdc-ORU-PHLIP_FLU-missing-MSH10.hl7", {{"AR"}, "MSH-10 (message control id) is empty"}},
      {"msft-ADT-A41-02.hl7", {{"AR"}, "ADT^A41 is not supported"}},
      {"msft-ADT-A45-01.hl7", {{"AR"}, "ADT^A45 is not supported"}},
      {"msft-ADT-A47-01.hl7", {{"AR"}, "ADT^A47 is not supported"}},
      {"v2tofhir-MDM-T02-formatted-text-br-v2.5.1.hl7", {{"AR"}, "MDM^T02 is not supported"}},
      {"v2tofhir-MDM-T02-plain-text-with-line-breaks-v2.3.1.hl7",
       {{"AR"}, "MDM^T02 is not supported"}},
      {"v2tofhir-ORM-O01-IHE-RAD-4-ZDS-v2.3.1.hl7", {{"AR"}, "ORM^O01 is not supported"}},
  };
  return *m;
}

fs::path SharedHl7Dir() {
  const char* dir = std::getenv("HIE_SOURCE_DIR");
  return fs::path(dir ? dir : HIE_TEST_SOURCE_DIR) / "../shared/data/hl7v2";
}

int CountSegments(const std::string& message, const std::string& id) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(message, '\r')) {
    if (absl::StartsWith(line, id + "|")) ++n;
  }
  return n;
}

TEST_F(Hl7StoreTest, EverySharedSampleIsAcceptedOrRefusedWithItsReason) {
  fs::path dir = SharedHl7Dir();
  if (!fs::exists(dir)) GTEST_SKIP() << "shared HL7 v2 data not present";
  int files = 0, accepted = 0, refused = 0;
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".hl7") paths.push_back(e.path());
  }
  std::sort(paths.begin(), paths.end());
  for (const fs::path& path : paths) {
    SCOPED_TRACE(path.filename().string());
    ++files;
    // A fresh node per file: the samples come from unrelated feeds that reuse control
    // ids (MSG00001) and would otherwise be taken for resends.
    TearDown();
    SetUp();
    std::vector<std::string> messages = SplitMessages(ReadFile(path));
    auto refusal = Refusals().find(path.filename().string());
    for (size_t i = 0; i < messages.size(); ++i) {
      Hl7Outcome out = processor_->Process(messages[i]);
      if (refusal != Refusals().end()) {
        EXPECT_EQ(out.ack_code, refusal->second.acks[i]) << out.ack;
        EXPECT_THAT(out.ack, HasSubstr("ERR|"));
        EXPECT_THAT(out.reason, HasSubstr(refusal->second.reason));
        ++refused;
        continue;
      }
      ASSERT_EQ(out.ack_code, "AA") << out.ack;
      ++accepted;
      // The resources it made, by what the message holds.
      ASSERT_OK_AND_ASSIGN(Hl7Message m, Hl7Message::Parse(messages[i]));
      ASSERT_OK_AND_ASSIGN(Hl7Conversion c, ConvertToFhir(m, {}));
      std::map<std::string, int> types;
      simdjson::dom::parser parser;
      simdjson::dom::element bundle;
      ASSERT_EQ(parser.parse(c.bundle_json).get(bundle), simdjson::SUCCESS);
      simdjson::dom::array entries;
      ASSERT_EQ(bundle["entry"].get_array().get(entries), simdjson::SUCCESS);
      for (auto entry : entries) {
        std::string_view type;
        ASSERT_EQ(entry["resource"]["resourceType"].get_string().get(type), simdjson::SUCCESS);
        ++types[std::string(type)];
      }
      std::string code = m.MessageCode(), event = m.TriggerEvent();
      if (event == "A40" || event == "A34") {
        EXPECT_EQ(types["Patient"], 2 * CountSegments(messages[i], "MRG"));
        EXPECT_EQ(c.merges.size(), static_cast<size_t>(CountSegments(messages[i], "MRG")));
        continue;
      }
      EXPECT_EQ(types["Patient"], CountSegments(messages[i], "PID"));
      if (code == "ORU") {
        EXPECT_EQ(types["DiagnosticReport"], CountSegments(messages[i], "OBR"));
        int coded_obx = 0;
        for (const auto& segment : m.segments()) {
          if (segment.id() == "OBX" &&
              (!m.Value(segment, 3).empty() || !m.Value(segment, 3, 2).empty()))
            ++coded_obx;
        }
        EXPECT_EQ(types["Observation"], coded_obx);
        if (coded_obx < CountSegments(messages[i], "OBX")) {
          EXPECT_THAT(out.ack, HasSubstr("|W|"));
        }
      } else {
        EXPECT_LE(types["AllergyIntolerance"], CountSegments(messages[i], "AL1"));
        EXPECT_GE(types["AllergyIntolerance"], CountSegments(messages[i], "AL1") > 0 ? 1 : 0);
        EXPECT_EQ(types["Condition"], CountSegments(messages[i], "DG1"));
      }
    }
  }
  EXPECT_EQ(files, 62);
  EXPECT_EQ(accepted + refused, 64);
  EXPECT_EQ(refused, 9);
}

TEST_F(Hl7StoreTest, SharedHivAndSyphilisResultsAreLabelled) {
  fs::path file = SharedHl7Dir() / "cdc-ORU-CaseLab_001-STD-HIV-escapes-v2.5.1.hl7";
  if (!fs::exists(file)) GTEST_SKIP() << "shared HL7 v2 data not present";
  Hl7Outcome out = processor_->Process(ReadFile(file));
  ASSERT_EQ(out.ack_code, "AA") << out.ack;
  std::string patient = PatientIdFor("PCTEXEAXSYFY");
  int hiv = 0, std_labelled = 0;
  bool escaped = false;
  EXPECT_OK(records_->ForPatient(patient, "Observation", [&](const hie::v1::RecordEnvelope& r) {
    if (absl::StrContains(r.fhir_json(), "\"56888-1\"")) {
      EXPECT_THAT(r.sensitivity(), ::testing::Contains("HIV"));
      ++hiv;
    }
    if (absl::StrContains(r.fhir_json(), "\"24110-9\"")) {
      EXPECT_THAT(r.sensitivity(), ::testing::Contains("STD"));
      ++std_labelled;
    }
    // \F\ became a literal bar inside the display, not a field break.
    escaped = escaped || absl::StrContains(r.fhir_json(), "Ser Ql IA   ||  Treponema");
    return true;
  }));
  EXPECT_EQ(hiv, 1);
  EXPECT_EQ(std_labelled, 3);  // OBR 2 and 3 carry one each, the case notes one
  EXPECT_TRUE(escaped);
}

TEST_F(Hl7StoreTest, SharedMergeWithTwoPairs) {
  fs::path file = SharedHl7Dir() / "msft-ADT-A40-02.hl7";
  if (!fs::exists(file)) GTEST_SKIP() << "shared HL7 v2 data not present";
  Hl7Outcome out = processor_->Process(ReadFile(file));
  ASSERT_EQ(out.ack_code, "AA") << out.ack;
  EXPECT_EQ(processor_->SurvivorOf("56789"), "12345");
  EXPECT_EQ(processor_->SurvivorOf("569"), "145");
  EXPECT_EQ(Removals().size(), 2u);
}

}  // namespace
}  // namespace hie::node::hl7
