#include "mpi/index/person_proto.h"

namespace hie::mpi {

Person PersonFromDemographics(const hie::v1::Demographics& d) {
  Person p;
  const hie::v1::HumanName* current = nullptr;
  for (const auto& name : d.names()) {
    bool former = name.use() == hie::v1::HumanName::USE_OLD ||
                  name.use() == hie::v1::HumanName::USE_MAIDEN || name.period().has_end();
    if (former) {
      if (!name.family().empty()) p.former_family.push_back(name.family());
    } else if (current == nullptr || (name.use() == hie::v1::HumanName::USE_OFFICIAL &&
                                      current->use() != hie::v1::HumanName::USE_OFFICIAL)) {
      current = &name;
    }
  }
  if (current == nullptr && d.names_size() > 0) current = &d.names(0);
  if (current != nullptr) {
    p.given.assign(current->given().begin(), current->given().end());
    p.family = current->family();
    p.suffix.assign(current->suffix().begin(), current->suffix().end());
    if (p.given.empty() && p.family.empty() && !current->text().empty()) {
      p.given.push_back(current->text());  // only free text: match it as a name
    }
  }
  if (d.has_birth_date())
    p.birth_date = {d.birth_date().year(), d.birth_date().month(), d.birth_date().day()};
  switch (d.sex()) {
    case hie::v1::SEX_MALE:
      p.sex = Sex::kMale;
      break;
    case hie::v1::SEX_FEMALE:
      p.sex = Sex::kFemale;
      break;
    case hie::v1::SEX_OTHER:
      p.sex = Sex::kOther;
      break;
    default:
      p.sex = Sex::kUnknown;
      break;
  }
  const hie::v1::Address* address = nullptr;
  for (const auto& a : d.addresses()) {
    if (a.use() == hie::v1::Address::USE_OLD || a.period().has_end()) continue;
    if (address == nullptr || a.use() == hie::v1::Address::USE_HOME) address = &a;
  }
  if (address != nullptr) {
    p.street.assign(address->line().begin(), address->line().end());
    p.city = address->city();
    p.postal_code = address->postal_code();
    p.state = address->state();
  }
  for (const auto& t : d.telecoms()) {
    if (t.system() == hie::v1::ContactPoint::SYSTEM_PHONE ||
        t.system() == hie::v1::ContactPoint::SYSTEM_SMS) {
      p.phones.push_back(t.value());
    }
  }
  for (const auto& id : d.identifiers()) p.identifiers.emplace_back(id.system(), id.value());
  if (d.multiple_birth_case() == hie::v1::Demographics::kMultipleBirthOrder) {
    p.multiple_birth_order = d.multiple_birth_order();
    p.multiple_birth = true;
  } else if (d.multiple_birth_case() == hie::v1::Demographics::kMultipleBirthFlag) {
    p.multiple_birth = d.multiple_birth_flag();
  }
  return p;
}

hie::v1::Demographics DemographicsFromPerson(const Person& p) {
  hie::v1::Demographics d;
  auto* name = d.add_names();
  name->set_use(hie::v1::HumanName::USE_OFFICIAL);
  name->set_family(p.family);
  for (const auto& g : p.given) name->add_given(g);
  for (const auto& suffix : p.suffix) name->add_suffix(suffix);
  for (const auto& former : p.former_family) {
    auto* old = d.add_names();
    old->set_use(hie::v1::HumanName::USE_MAIDEN);
    old->set_family(former);
  }
  if (p.birth_date.known()) {
    d.mutable_birth_date()->set_year(p.birth_date.year);
    d.mutable_birth_date()->set_month(p.birth_date.month);
    d.mutable_birth_date()->set_day(p.birth_date.day);
  }
  switch (p.sex) {
    case Sex::kMale:
      d.set_sex(hie::v1::SEX_MALE);
      break;
    case Sex::kFemale:
      d.set_sex(hie::v1::SEX_FEMALE);
      break;
    case Sex::kOther:
      d.set_sex(hie::v1::SEX_OTHER);
      break;
    case Sex::kUnknown:
      break;
  }
  if (!p.street.empty() || !p.city.empty() || !p.postal_code.empty()) {
    auto* a = d.add_addresses();
    a->set_use(hie::v1::Address::USE_HOME);
    for (const auto& line : p.street) a->add_line(line);
    a->set_city(p.city);
    a->set_postal_code(p.postal_code);
    a->set_state(p.state);
  }
  for (const auto& phone : p.phones) {
    auto* t = d.add_telecoms();
    t->set_system(hie::v1::ContactPoint::SYSTEM_PHONE);
    t->set_value(phone);
  }
  for (const auto& [system, value] : p.identifiers) {
    auto* id = d.add_identifiers();
    id->set_system(system);
    id->set_value(value);
  }
  if (p.multiple_birth_order > 0) {
    d.set_multiple_birth_order(p.multiple_birth_order);
  } else if (p.multiple_birth) {
    d.set_multiple_birth_flag(true);
  }
  return d;
}

}  // namespace hie::mpi
