#include "node/web/record_view.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "http/html.h"
#include "node/domain/disclosure.h"
#include "node/web/pages.h"
#include "simdjson.h"

namespace hie::node {
namespace {

using http::HtmlEscape;
using Json = simdjson::simdjson_result<simdjson::dom::element>;

// The sections of the record, in page order, and the resource types each shows (the
// timeline takes every type no other section names).
enum Section { kPatient, kProblems, kMedications, kAllergies, kResults, kImmunizations, kTimeline };
constexpr int kSections = kTimeline + 1;
constexpr const char* kSectionTitles[kSections] = {
    "Patient", "Problems",      "Medications",         "Allergies",
    "Results", "Immunizations", "Encounters and notes"};
constexpr const char* kSectionIds[kSections] = {"rv-patient",   "rv-problems", "rv-medications",
                                                "rv-allergies", "rv-results",  "rv-immunizations",
                                                "rv-timeline"};

Section SectionOf(std::string_view type) {
  if (type == "Patient") return kPatient;
  if (type == "Condition") return kProblems;
  if (type == "MedicationRequest" || type == "MedicationStatement" ||
      type == "MedicationAdministration" || type == "MedicationDispense") {
    return kMedications;
  }
  if (type == "AllergyIntolerance") return kAllergies;
  if (type == "Observation") return kResults;
  if (type == "Immunization") return kImmunizations;
  return kTimeline;
}

// One entry of the answer as a line of its section.
struct Item {
  std::string type;
  std::string text;
  std::string detail;
  std::optional<absl::Time> date;
  std::vector<std::string> sources;  // the first is the one whose text is shown
  int64_t folded = 0;
};

// One numeric observation's values over time.
struct Point {
  absl::Time when;
  double value = 0;
  std::string source;
};
struct Series {
  std::string title;
  std::string unit;
  std::vector<Point> points;
};

// A CodeableConcept's words: its text, else a coding's display, else a coding's code.
std::string ConceptText(Json cc) {
  std::string text = JsonText(cc["text"]);
  if (!text.empty()) return text;
  simdjson::dom::array codings;
  if (cc["coding"].get_array().get(codings)) return "";
  for (simdjson::dom::element coding : codings) {
    if (std::string display = JsonText(coding["display"]); !display.empty()) return display;
  }
  for (simdjson::dom::element coding : codings) {
    if (std::string code = JsonText(coding["code"]); !code.empty()) return code;
  }
  return "";
}

// An element that is one CodeableConcept or an array of them (Encounter.type), as words.
std::string ConceptOrFirst(Json value) {
  simdjson::dom::array many;
  if (!value.get_array().get(many)) {
    for (simdjson::dom::element one : many) {
      if (std::string text = ConceptText(Json(std::move(one))); !text.empty()) return text;
    }
    return "";
  }
  return ConceptText(value);
}

// What the record is, in words: the first of the elements that name it.
std::string DisplayText(const simdjson::dom::element& r, std::string_view type) {
  for (const char* field : {"code", "vaccineCode", "medicationCodeableConcept"}) {
    if (std::string text = ConceptText(r[field]); !text.empty()) return text;
  }
  if (std::string text = JsonText(r["medicationReference"]["display"]); !text.empty()) return text;
  if (std::string text = ConceptOrFirst(r["type"]); !text.empty()) return text;
  if (std::string text = JsonText(r["description"]); !text.empty()) return text;
  for (const char* field : {"display", "code"}) {
    if (std::string text = JsonText(r["class"][field]); !text.empty()) return text;
  }
  return std::string(type);
}

// A number as a person writes it: no trailing zeros.
std::string Number(double value) { return absl::StrCat(value); }

// An Observation's value in words ("7.2 mmol/L", "positive").
std::string ObservationValue(const simdjson::dom::element& r) {
  double number;
  if (!r["valueQuantity"]["value"].get_double().get(number)) {
    std::string unit = JsonText(r["valueQuantity"]["unit"]);
    if (unit.empty()) unit = JsonText(r["valueQuantity"]["code"]);
    return unit.empty() ? Number(number) : absl::StrCat(Number(number), " ", unit);
  }
  if (std::string text = JsonText(r["valueString"]); !text.empty()) return text;
  if (std::string text = ConceptText(r["valueCodeableConcept"]); !text.empty()) return text;
  bool flag;
  if (!r["valueBoolean"].get_bool().get(flag)) return flag ? "yes" : "no";
  return "";
}

// The few words after an item's name that a reader needs: a result's value, a
// problem's status, a medication's dosage, an allergy's reaction and criticality.
std::string Detail(const simdjson::dom::element& r, Section section) {
  std::vector<std::string> parts;
  auto add = [&](std::string text) {
    if (!text.empty()) parts.push_back(std::move(text));
  };
  switch (section) {
    case kResults:
      add(ObservationValue(r));
      break;
    case kProblems:
      add(ConceptText(r["clinicalStatus"]));
      break;
    case kMedications:
      add(JsonText(r["dosageInstruction"].at(0)["text"]));
      add(JsonText(r["dosage"].at(0)["text"]));
      add(JsonText(r["status"]));
      break;
    case kAllergies:
      add(ConceptText(r["reaction"].at(0)["manifestation"].at(0)));
      if (std::string c = JsonText(r["criticality"]); !c.empty())
        add(absl::StrCat("criticality ", c));
      break;
    case kImmunizations:
      add(JsonText(r["status"]));
      break;
    case kTimeline:
      if (std::string d = JsonText(r["description"]); !d.empty() && d != DisplayText(r, "")) add(d);
      add(JsonText(r["status"]));
      break;
    case kPatient:
      break;
  }
  return absl::StrJoin(parts, " · ");
}

std::string PatientDetail(const simdjson::dom::element& r) {
  std::vector<std::string> parts;
  if (std::vector<std::string> names = PatientNames(r); names.size() > 1) {
    parts.push_back(absl::StrCat(
        "also named ",
        absl::StrJoin(std::vector<std::string>(names.begin() + 1, names.end()), "; ")));
  }
  if (std::string born = JsonText(r["birthDate"]); !born.empty()) {
    parts.push_back(absl::StrCat("born ", born));
  }
  if (std::string gender = JsonText(r["gender"]); !gender.empty()) parts.push_back(gender);
  return absl::StrJoin(parts, " · ");
}

std::string Day(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

// The key that puts values of one measurement in one series: its first coding (else
// its text) and its unit.
std::string SeriesKey(const simdjson::dom::element& r) {
  std::string code;
  simdjson::dom::element coding;
  if (!r["code"]["coding"].at(0).get(coding) && !JsonText(coding["code"]).empty()) {
    code = absl::StrCat(JsonText(coding["system"]), "|", JsonText(coding["code"]));
  } else {
    code = absl::StrCat("text|", JsonText(r["code"]["text"]));
  }
  return absl::StrCat(code, "#", JsonText(r["valueQuantity"]["unit"]));
}

std::string Badges(const Item& item, const RecordViewOptions& options) {
  std::string out = "<span class=\"sources\">";
  for (const std::string& org : item.sources) {
    if (org == options.own_org) {
      absl::StrAppend(&out, "<span class=\"badge own\">", HtmlEscape(org),
                      " <span class=\"hint\">(this practice)</span></span>");
    } else {
      absl::StrAppend(&out, "<span class=\"badge\">", HtmlEscape(org), "</span>");
    }
  }
  out += "</span>";
  if (item.folded > 0) {
    std::vector<std::string> others;
    for (size_t i = 1; i < item.sources.size(); ++i) others.push_back(HtmlEscape(item.sources[i]));
    absl::StrAppend(&out, " <span class=\"folded\">",
                    others.empty() ? "duplicate records folded"
                                   : absl::StrCat("also held by ", absl::StrJoin(others, ", ")),
                    "</span>");
  }
  return out;
}

std::string DateHtml(const std::optional<absl::Time>& date) {
  if (!date) return "<span class=\"undated\">undated</span>";
  const std::string day = Day(*date);
  return absl::StrCat("<time datetime=\"", day, "\">", day, "</time>");
}

std::string ItemHtml(const Item& item, Section section, const RecordViewOptions& options) {
  std::string out = "<li class=\"rv-item\">";
  if (section == kTimeline) {
    absl::StrAppend(&out, DateHtml(item.date), " <span class=\"rv-type\">", HtmlEscape(item.type),
                    "</span> ");
  }
  absl::StrAppend(&out, "<span class=\"rv-text\">", HtmlEscape(item.text), "</span>");
  if (!item.detail.empty()) {
    absl::StrAppend(&out, " <span class=\"rv-detail\">", HtmlEscape(item.detail), "</span>");
  }
  if (section != kTimeline && section != kPatient) absl::StrAppend(&out, " ", DateHtml(item.date));
  absl::StrAppend(&out, " ", Badges(item, options), "</li>\n");
  return out;
}

std::string Heading(const RecordViewOptions& options, absl::string_view id,
                    absl::string_view text) {
  const int level = std::clamp(options.heading_level, 1, 5);
  return absl::StrCat("<h", level, " id=\"", id, "\">", text, "</h", level, ">\n");
}

const char* StateWords(HolderState state) {
  switch (state) {
    case HolderState::kOk:
      return "ok";
    case HolderState::kDenied:
      return "denied";
    case HolderState::kTimedOut:
      return "timed out";
    case HolderState::kUnreachable:
      return "unreachable";
    case HolderState::kFailed:
      return "failed";
  }
  return "failed";
}

std::string HoldersHtml(const std::vector<HolderOutcome>& holders,
                        const RecordViewOptions& options) {
  std::string out = absl::StrCat(
      "<section class=\"rv-holders\" aria-labelledby=\"rv-holders\">\n",
      Heading(options, "rv-holders", "Where this record came from"),
      "<table>\n<thead><tr><th scope=\"col\">Practice</th><th scope=\"col\">Status</th>"
      "<th scope=\"col\">Records</th>",
      options.show_withheld_counts ? "<th scope=\"col\">Withheld</th>" : "",
      "<th scope=\"col\">Time</th></tr></thead>\n<tbody>\n");
  for (const HolderOutcome& h : holders) {
    const char* state = StateWords(h.state);
    std::string css = state;
    std::replace(css.begin(), css.end(), ' ', '-');
    absl::StrAppend(&out, "<tr><th scope=\"row\">", HtmlEscape(h.org_id),
                    h.local ? " <span class=\"hint\">(this practice)</span>" : "",
                    "</th><td><span class=\"status status-", css, "\">", state, "</span></td><td>",
                    h.records, "</td>");
    if (options.show_withheld_counts) absl::StrAppend(&out, "<td>", h.withheld, "</td>");
    absl::StrAppend(&out, "<td>", absl::ToInt64Milliseconds(h.elapsed), " ms</td></tr>\n");
  }
  if (holders.empty()) {
    absl::StrAppend(&out, "<tr><td colspan=\"", options.show_withheld_counts ? 5 : 4,
                    "\">No practice reported.</td></tr>\n");
  }
  out += "</tbody>\n</table>\n</section>\n";
  return out;
}

std::string WithheldHtml(const std::vector<std::string>& categories,
                         const RecordViewOptions& options) {
  if (categories.empty()) return "";
  std::string out = absl::StrCat(
      "<section class=\"rv-withheld\" role=\"note\" aria-labelledby=\"rv-withheld\">\n",
      Heading(options, "rv-withheld", "Withheld by consent"),
      "<p>The patient's consent and the exchange's policy keep records of these kinds out of "
      "this record, wherever they are held. Such records may exist and are not shown here.</p>\n"
      "<ul>\n");
  for (const std::string& category : categories) {
    absl::StrAppend(&out, "<li><strong>", HtmlEscape(category),
                    "</strong>: ", HtmlEscape(CategoryMeaning(category)), "</li>\n");
  }
  out += "</ul>\n</section>\n";
  return out;
}

// SVG coordinates: one decimal.
std::string Coord(double v) { return absl::StrFormat("%.1f", v); }

// A line chart of `series` (at least two points, in time order) as inline SVG with
// presentation attributes only, and the same values as a table for screen readers.
std::string TrendHtml(const Series& series, int index) {
  constexpr double kWidth = 360, kHeight = 140, kLeft = 52, kRight = 12, kTop = 12, kBottom = 28;
  const auto& points = series.points;
  double low = points.front().value, high = low;
  for (const Point& p : points) {
    low = std::min(low, p.value);
    high = std::max(high, p.value);
  }
  const double span = high > low ? high - low : 1;
  const absl::Time first = points.front().when, last = points.back().when;
  const double seconds = absl::ToDoubleSeconds(last - first);
  auto x = [&](size_t i) {
    const double f = seconds > 0 ? absl::ToDoubleSeconds(points[i].when - first) / seconds
                                 : static_cast<double>(i) / (points.size() - 1);
    return kLeft + f * (kWidth - kLeft - kRight);
  };
  auto y = [&](double v) {
    const double f = high > low ? (v - low) / span : 0.5;
    return kHeight - kBottom - f * (kHeight - kTop - kBottom);
  };
  const std::string unit = series.unit.empty() ? "" : absl::StrCat(" ", series.unit);
  const std::string id = absl::StrCat("rv-trend-", index);
  const std::string label = absl::StrCat(
      "Trend of ", series.title, unit.empty() ? "" : absl::StrCat(" (", series.unit, ")"), ": ",
      points.size(), " values from ", Day(first), " to ", Day(last), ", lowest ", Number(low),
      ", highest ", Number(high));
  std::string polyline;
  std::string dots;
  for (size_t i = 0; i < points.size(); ++i) {
    absl::StrAppend(&polyline, i ? " " : "", Coord(x(i)), ",", Coord(y(points[i].value)));
    absl::StrAppend(&dots, "<circle cx=\"", Coord(x(i)), "\" cy=\"", Coord(y(points[i].value)),
                    "\" r=\"3.5\" fill=\"#0b4f8a\"/>");
  }
  const std::string axis_y = Coord(kHeight - kBottom);
  std::string out = absl::StrCat(
      "<figure class=\"rv-trend\">\n<figcaption id=\"", id, "\">", HtmlEscape(series.title),
      HtmlEscape(unit.empty() ? "" : absl::StrCat(" (", series.unit, ")")), "</figcaption>\n",
      "<svg class=\"rv-chart\" viewBox=\"0 0 ", kWidth, " ", kHeight, "\" width=\"", kWidth,
      "\" height=\"", kHeight, "\" role=\"img\" aria-labelledby=\"", id, "-title\" ",
      "xmlns=\"http://www.w3.org/2000/svg\">", "<title id=\"", id, "-title\">", HtmlEscape(label),
      "</title>",
      // Axes, the extremes' labels, the first and last dates.
      "<line x1=\"", Coord(kLeft), "\" y1=\"", Coord(kTop), "\" x2=\"", Coord(kLeft), "\" y2=\"",
      axis_y, "\" stroke=\"#595959\" stroke-width=\"1\"/>", "<line x1=\"", Coord(kLeft), "\" y1=\"",
      axis_y, "\" x2=\"", Coord(kWidth - kRight), "\" y2=\"", axis_y,
      "\" stroke=\"#595959\" stroke-width=\"1\"/>", "<text x=\"", Coord(kLeft - 6), "\" y=\"",
      Coord(y(high) + 4), "\" text-anchor=\"end\" font-size=\"11\" fill=\"#1f1f1f\">",
      HtmlEscape(Number(high)), "</text>", "<text x=\"", Coord(kLeft - 6), "\" y=\"",
      Coord(y(low) + 4), "\" text-anchor=\"end\" font-size=\"11\" fill=\"#1f1f1f\">",
      HtmlEscape(Number(low)), "</text>", "<text x=\"", Coord(kLeft), "\" y=\"", Coord(kHeight - 8),
      "\" font-size=\"11\" fill=\"#1f1f1f\">", Day(first), "</text>", "<text x=\"",
      Coord(kWidth - kRight), "\" y=\"", Coord(kHeight - 8),
      "\" text-anchor=\"end\" font-size=\"11\" fill=\"#1f1f1f\">", Day(last), "</text>",
      "<polyline points=\"", polyline, "\" fill=\"none\" stroke=\"#0b4f8a\" stroke-width=\"2\"/>",
      dots, "</svg>\n", "<table class=\"visually-hidden\"><caption>", HtmlEscape(series.title),
      HtmlEscape(unit.empty() ? "" : absl::StrCat(" (", series.unit, ")")),
      "</caption>\n<thead><tr><th scope=\"col\">Date</th><th scope=\"col\">Value</th>"
      "<th scope=\"col\">Practice</th></tr></thead>\n<tbody>\n");
  for (const Point& p : points) {
    absl::StrAppend(&out, "<tr><td>", Day(p.when), "</td><td>", HtmlEscape(Number(p.value)),
                    HtmlEscape(unit), "</td><td>", HtmlEscape(p.source), "</td></tr>\n");
  }
  out += "</tbody>\n</table>\n</figure>\n";
  return out;
}

// Newest first; undated last, in the answer's order.
void SortByDate(std::vector<Item>* items) {
  std::stable_sort(items->begin(), items->end(), [](const Item& a, const Item& b) {
    if (a.date.has_value() != b.date.has_value()) return a.date.has_value();
    return a.date.has_value() && *a.date > *b.date;
  });
}

std::string SectionHtml(Section section, std::vector<Item>& items, const std::string& charts,
                        const RecordViewOptions& options) {
  if (section != kPatient) SortByDate(&items);
  std::string out =
      absl::StrCat("<section class=\"rv-section\" aria-labelledby=\"", kSectionIds[section],
                   "\">\n", Heading(options, kSectionIds[section], kSectionTitles[section]));
  out += charts;
  if (items.empty()) {
    out += "<p class=\"rv-none\">None in this record.</p>\n";
  } else {
    absl::StrAppend(&out, section == kTimeline ? "<ol class=\"rv-list rv-timeline\">\n"
                                               : "<ul class=\"rv-list\">\n");
    for (const Item& item : items) out += ItemHtml(item, section, options);
    out += section == kTimeline ? "</ol>\n" : "</ul>\n";
  }
  out += "</section>\n";
  return out;
}

}  // namespace

std::string CategoryMeaning(absl::string_view category) {
  static const auto* kMeanings = new std::map<std::string, std::string, std::less<>>{
      {"42CFRPart2", "substance-use disorder treatment records (protected by 42 CFR Part 2)"},
      {"ALCOHOLUD", "alcohol use disorder information"},
      {"BH", "behavioural health information"},
      {"COMPT", "compartmented information"},
      {"DEMO", "demographic information"},
      {"DIA", "diagnosis information"},
      {"DRGUD", "drug use disorder information"},
      {"EMPL", "employer information"},
      {"ETH", "substance abuse information (alcohol or drug use)"},
      {"ETHUD", "alcohol or drug use disorder information"},
      {"GDIS", "genetic disease information"},
      {"HIV", "HIV and AIDS information"},
      {"HRCOMPT", "human resources information"},
      {"L", "records of low confidentiality"},
      {"M", "records of moderate confidentiality"},
      {"MH", "mental health information"},
      {"MST", "military sexual trauma information"},
      {"N", "records of normal confidentiality"},
      {"OPIOIDUD", "opioid use disorder information"},
      {"PSY", "psychiatry information"},
      {"PSYTHPN", "psychotherapy notes"},
      {"R", "restricted records (every sensitive category)"},
      {"SCA", "sickle cell anemia information"},
      {"SDV", "sexual assault, abuse or domestic violence information"},
      {"SEX", "sexuality and reproductive health information"},
      {"SICKLE", "sickle cell information"},
      {"SPI", "specially protected information"},
      {"STD", "sexually transmitted disease information"},
      {"TBOO", "taboo information"},
      {"U", "unrestricted records"},
      {"V", "very restricted records"},
  };
  auto it = kMeanings->find(category);
  return it == kMeanings->end() ? std::string(category) : it->second;
}

std::string RecordViewHtml(const std::vector<HolderOutcome>& holders, const QueryAnswer& answer,
                           const RecordViewOptions& options) {
  std::vector<Item> sections[kSections];
  std::map<std::string, Series> series;  // by SeriesKey, in key order
  simdjson::dom::parser parser;
  const BundleWriter& bundle = *answer.bundle;
  for (int64_t i = 0; i < bundle.entries(); ++i) {
    const hie::v1::RecordEnvelope& record = bundle.record(i);
    simdjson::dom::element r;
    if (parser.parse(record.fhir_json()).get(r)) continue;  // the writer counts these
    const std::string type = record.resource_type();
    if (type == "Provenance") continue;
    const Section section = SectionOf(type);
    Item item;
    item.type = type;
    item.sources = bundle.sources(i);
    item.folded = bundle.folded(i);
    if (section == kPatient) {
      item.text = PatientText(r);
      item.detail = PatientDetail(r);
    } else {
      item.text = DisplayText(r, type);
      item.detail = Detail(r, section);
      item.date = ClinicalDate(r);
    }
    double value;
    if (section == kResults && item.date.has_value() &&
        !r["valueQuantity"]["value"].get_double().get(value)) {
      Series& s = series[SeriesKey(r)];
      if (s.points.empty()) {
        s.title = item.text;
        s.unit = JsonText(r["valueQuantity"]["unit"]);
      }
      s.points.push_back({*item.date, value, item.sources.front()});
    }
    sections[section].push_back(std::move(item));
  }
  std::string charts;
  int index = 0;
  for (auto& [key, s] : series) {
    if (s.points.size() < 2) continue;
    std::stable_sort(s.points.begin(), s.points.end(),
                     [](const Point& a, const Point& b) { return a.when < b.when; });
    charts += TrendHtml(s, ++index);
  }
  std::string out = "<div class=\"record-view\">\n";
  if (options.emergency) {
    out +=
        "<p class=\"emergency-banner\" role=\"alert\"><strong>Emergency access "
        "(break-the-glass).</strong> This record was opened for emergency treatment; the "
        "access is recorded, reported for review, and the patient can see it.</p>\n";
  }
  absl::StrAppend(&out, "<p class=\"rv-meta\">Gathered ", When(answer.completed_at),
                  " · query <code>", HtmlEscape(answer.query_id), "</code> · ", bundle.entries(),
                  " items",
                  bundle.duplicates_folded() > 0
                      ? absl::StrCat(", ", bundle.duplicates_folded(), " duplicates folded")
                      : "",
                  "</p>\n");
  out += HoldersHtml(holders, options);
  out += WithheldHtml(answer.withheld_categories, options);
  for (int s = 0; s < kSections; ++s) {
    out += SectionHtml(static_cast<Section>(s), sections[s], s == kResults ? charts : "", options);
  }
  out += "</div>\n";
  return out;
}

}  // namespace hie::node
