// HL7 v2 over MLLP into the durable store, beside FHIR ingest of the same content, in
// the same run on the same machine. Each message is a registration (ADT^A04: Patient,
// Encounter, allergy, diagnosis) or a lab result (ORU^R01: Patient, DiagnosticReport,
// five Observations), every one a new patient and control id.
//
//   mllp      one loopback TCP connection to the node's MLLP listener, one message at a
//             time, each waiting for its ACK (as MLLP senders do): parse, map to FHIR,
//             FHIR ingest, one synced LevelDB batch, ACK.
//   fhir      the Bundles those messages become, through the node's Importer (the Ingest
//             service's path without gRPC): FHIR ingest, one synced batch each.
//   convert   parsing and mapping alone (no store), for the share of HL7 itself.
//
//   build/bin/hl7_bench [--messages N] [--repetitions R] [--json]
// Prints the median over R repetitions (fresh store each) of messages per second.
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json/json_writer.h"
#include "common/store/kv_store.h"
#include "common/time/clock.h"
#include "node/domain/importer.h"
#include "node/hl7/hl7_processor.h"
#include "node/hl7/hl7_to_fhir.h"
#include "node/hl7/mllp_framer.h"
#include "node/service/mllp_listener.h"

namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;
using namespace hie::node;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::string Message(int i) {
  std::string msh = absl::StrCat("MSH|^~\\&|EMR|CLINIC|HIE|NODE|20240101120000+0100||");
  std::string pid = absl::StrCat("PID|1||MRN", i, "^^^Clinic&1.2.3.4&ISO^MR||Doe", i,
                                 "^Jane^Q^^^^L||19700101|F|||1 Main St^^Springfield^IL^62701||"
                                 "^PRN^PH^^^217^5550100\r");
  if (i % 2 == 0) {
    return absl::StrCat(msh, "ADT^A04^ADT_A01|ADT", i, "|P|2.5.1\rEVN|A04\r", pid,
                        "PV1|1|O|CLINIC^1||||D1^House^Greg||||||||||||V", i,
                        "|||||||||||||||||||||||||20240101110000+0100\r"
                        "AL1|1|DA|70618^Penicillin^RXNORM|SV|Hives\r"
                        "DG1|1||E11.9^Type 2 diabetes^I10C||20240101|A\r");
  }
  return absl::StrCat(msh, "ORU^R01^ORU_R01|ORU", i, "|P|2.5.1\r", pid, "OBR|1||F", i,
                      "|57021-8^CBC^LN|||20240101083000+0000||||||||||||||||||F\r"
                      "OBX|1|NM|718-7^Hemoglobin^LN||13.5|g/dL^^UCUM|12.0-16.0|N|||F\r"
                      "OBX|2|NM|6690-2^WBC^LN||7.1|10*3/uL^^UCUM|4.0-11.0|N|||F\r"
                      "OBX|3|NM|789-8^RBC^LN||4.5|10*6/uL^^UCUM|4.0-5.5|N|||F\r"
                      "OBX|4|NM|777-3^Platelets^LN||250|10*3/uL^^UCUM|150-400|N|||F\r"
                      "OBX|5|ST|8251-1^Comment^LN||no abnormal cells||||||F\r");
}

struct Node {
  explicit Node(const std::string& dir) {
    fs::remove_all(dir);
    kv = *hie::store::KvStore::Open(dir);
    labeler.emplace(*Labeler::FromConfig({}));
    ingester = std::make_unique<FhirIngester>(&*labeler);
    records = std::make_unique<RecordStore>(kv.get(), hie::Clock::Real());
    outbox = *Outbox::Open(kv.get());
    processor =
        std::make_unique<hl7::Hl7Processor>(ingester.get(), records.get(), kv.get(), outbox.get(),
                                            hie::Clock::Real(), hl7::Hl7ProcessorOptions{});
  }
  std::unique_ptr<hie::store::KvStore> kv;
  std::optional<Labeler> labeler;
  std::unique_ptr<FhirIngester> ingester;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<hl7::Hl7Processor> processor;
};

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) return -1;
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  int messages = 1000, repetitions = 5;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--messages" && i + 1 < argc) {
      messages = std::max(2, std::atoi(argv[++i]));
    } else if (arg == "--repetitions" && i + 1 < argc) {
      repetitions = std::max(1, std::atoi(argv[++i]));
    } else {
      std::cerr << "usage: hl7_bench [--messages N] [--repetitions R] [--json]\n";
      return 2;
    }
  }
  std::vector<std::string> texts;
  std::vector<std::string> bundles;
  for (int i = 0; i < messages; ++i) {
    texts.push_back(Message(i));
    auto parsed = hl7::Hl7Message::Parse(texts.back());
    auto converted = hl7::ConvertToFhir(*parsed);
    if (!converted.ok()) {
      std::cerr << "hl7_bench: message " << i << ": " << converted.status() << "\n";
      return 1;
    }
    bundles.push_back(converted->bundle_json);
  }
  std::string base = fs::temp_directory_path() / absl::StrCat("hie-hl7-bench-", ::getpid());
  std::vector<double> mllp_rates, fhir_rates, convert_rates;
  int64_t resources = 0;
  for (int r = 0; r < repetitions; ++r) {
    {  // MLLP
      Node node(base + "/mllp");
      auto listener =
          MllpListener::Start(MllpListenerOptions{.listen_address = "127.0.0.1:0"},
                              [&](absl::string_view m) { return node.processor->Process(m).ack; });
      if (!listener.ok()) {
        std::cerr << "hl7_bench: " << listener.status() << "\n";
        return 1;
      }
      int fd = Connect((*listener)->port());
      if (fd < 0) return 1;
      hl7::MllpDecoder decoder(1 << 20);
      char buffer[4096];
      auto start = SteadyClock::now();
      for (const std::string& text : texts) {
        std::string framed = hl7::MllpFrame(text);
        if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(framed.size()))
          return 1;
        std::vector<std::string> acks;
        while (acks.empty()) {
          ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
          if (n <= 0 || !decoder.Feed(absl::string_view(buffer, n), &acks).ok()) return 1;
        }
        if (acks[0].find("MSA|AA|") == std::string::npos) {
          std::cerr << "hl7_bench: not accepted: " << acks[0] << "\n";
          return 1;
        }
      }
      mllp_rates.push_back(messages /
                           std::chrono::duration<double>(SteadyClock::now() - start).count());
      ::close(fd);
    }
    {  // FHIR ingest of the same content
      Node node(base + "/fhir");
      Importer importer(node.ingester.get(), node.records.get(), node.outbox.get());
      auto start = SteadyClock::now();
      for (const std::string& bundle : bundles) {
        if (!importer.AddJson(bundle, "bench").ok()) return 1;
      }
      fhir_rates.push_back(messages /
                           std::chrono::duration<double>(SteadyClock::now() - start).count());
      resources = importer.totals().accepted;
      if (!importer.totals().rejected.empty()) return 1;
    }
    {  // parse and map alone
      auto start = SteadyClock::now();
      size_t bytes = 0;
      for (const std::string& text : texts) {
        auto parsed = hl7::Hl7Message::Parse(text);
        bytes += hl7::ConvertToFhir(*parsed)->bundle_json.size();
      }
      convert_rates.push_back(messages /
                              std::chrono::duration<double>(SteadyClock::now() - start).count());
      if (bytes == 0) return 1;
    }
  }
  fs::remove_all(base);
  double mllp = Median(mllp_rates), fhir = Median(fhir_rates), convert = Median(convert_rates);
  if (json) {
    std::cout << hie::JsonObject()
                     .Add("messages", messages)
                     .Add("resources", resources)
                     .Add("repetitions", repetitions)
                     .Add("mllp_messages_per_second", mllp)
                     .Add("fhir_bundles_per_second", fhir)
                     .Add("convert_messages_per_second", convert)
                     .Build()
              << "\n";
  } else {
    std::cout << absl::StrFormat(
        "%d messages (%d resources), median of %d:\n"
        "  HL7 v2 over MLLP, durable, ACK each  %10.0f msg/s\n"
        "  FHIR ingest of the same Bundles      %10.0f bundles/s\n"
        "  HL7 parse + map only                 %10.0f msg/s\n",
        messages, resources, repetitions, mllp, fhir, convert);
  }
  return 0;
}
