#include "tools/loadgen/catalog.h"

#include <array>
#include <string_view>

#include "base/time_format.h"

namespace fs::loadgen {
namespace {

constexpr std::array<std::string_view, 16> kAdjectives = {
    "Limited", "Classic", "Retro",  "Urban",  "Alpine", "Vintage", "Signature", "Premium",
    "Light",   "Rapid",   "Studio", "Nordic", "Crème",  "Édition", "Tropical",  "Midnight"};
constexpr std::array<std::string_view, 12> kColors = {"Red",   "Blue", "Black", "White",
                                                      "Olive", "Sand", "Coral", "Graphite",
                                                      "Ivory", "Café", "Jade",  "Rosé"};
constexpr std::array<std::string_view, 16> kNouns = {
    "Sneaker", "Hoodie", "Backpack", "Watch",   "Jacket", "Headphones", "Console", "Scarf",
    "Boots",   "Cap",    "Lamp",     "Blender", "Tent",   "Bicycle",    "Camera",  "Sunglasses"};
constexpr std::array<std::string_view, 10> kCategories = {
    "Shoes",  "Clothing",    "Bags",   "Watches", "Audio",
    "Gaming", "Accessories", "Maison", "Outdoor", "Électronique"};
constexpr std::array<std::string_view, 20> kTags = {
    "limited", "drop",    "collab",  "summer", "winter",  "vegan",    "recycled",
    "unisex",  "kids",    "premium", "retro",  "outdoor", "wireless", "handmade",
    "organic", "classic", "travel",  "sport",  "gift",    "new"};
constexpr std::array<std::string_view, 8> kPhrases = {
    "made for long days on the move",        "crafted from recycled materials",
    "a numbered run you will not see again", "designed with our studio partners",
    "light, warm and easy to carry",         "tested in the Alps for a full winter",
    "the café favourite, back for one week", "comes with a two-year warranty"};

// A small fixed-seed generator (SplitMix64): the same catalog on every run.
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

template <typename Array>
std::string_view Pick(const Array& values, std::uint64_t seed) {
  return values[seed % values.size()];
}

constexpr std::array<std::string_view, 24> kTargets = {
    "",                                  // the default list page
    "?status=OPEN",                      // what can be bought now
    "?status=SCHEDULED&sort=starts_at",  // coming up
    "?sort=price&limit=20",              //
    "?q=sneaker",                        // one word
    "?q=sneak",                          // a prefix
    "?q=red+hoodie",                     // two words
    "?q=cafe",                           // an accent folded (Café)
    "?q=CR%C3%88ME",                     // an accent typed (CRÈME)
    "?q=limited+edition",                // Édition by its plain spelling
    "?q=electronique",                   // a category word
    "?q=recycled",                       // a description word
    "?q=head",                           // a prefix of Headphones
    "?category=Shoes",                   // a category filter
    "?tag=vegan",                        // a tag filter
    "?tag=limited&tag=drop",             // two tags
    "?min_price_cents=5000&max_price_cents=20000&sort=-price",
    "?q=watch&status=OPEN,SCHEDULED",  //
    "?q=alpine+jacket&sort=price",     //
    "?q=b",                            // a one-letter prefix: many matches
    "?q=nordic+lamp+maison",           // three words
    "?status=SOLD_OUT&limit=50",       //
    "?q=tent&category=outdoor",        //
    "?q=travel+gift",                  // tags
};

}  // namespace

std::string CatalogSaleBody(std::uint64_t index, std::uint64_t count, std::int64_t now_ms) {
  const std::uint64_t seed = Mix(index);
  std::string name = std::string(Pick(kAdjectives, seed)) + " " +
                     std::string(Pick(kColors, seed >> 8)) + " " +
                     std::string(Pick(kNouns, seed >> 16));
  std::string description = std::string(Pick(kPhrases, seed >> 24)) + "; " +
                            std::string(Pick(kPhrases, seed >> 32)) + ".";
  std::string tags = "\"" + std::string(Pick(kTags, seed >> 40)) + "\"";
  if (const std::string_view second = Pick(kTags, seed >> 44);
      tags.find(second) == std::string::npos) {
    tags += ",\"" + std::string(second) + "\"";
  }
  // 1 % open, 9 % scheduled, then alternately sold out (no stock) and closed (ended).
  const std::uint64_t open = count / 100;
  const std::uint64_t scheduled = count / 10;
  std::int64_t stock = 1000;
  std::string window;
  if (index >= open && index < scheduled) {
    const std::int64_t starts =
        now_ms + static_cast<std::int64_t>(1 + (seed >> 48) % 30) * 86'400'000;
    window = ",\"starts_at\":\"" + base::FormatRfc3339(base::TimeFromMillis(starts)) + "\"";
  } else if (index >= scheduled && index % 2 == 0) {
    stock = 0;
  } else if (index >= scheduled) {
    window =
        ",\"ends_at\":\"" + base::FormatRfc3339(base::TimeFromMillis(now_ms - 3'600'000)) + "\"";
  }
  const std::int64_t price = 500 + static_cast<std::int64_t>((seed >> 52) % 400) * 100;
  return "{\"sku_id\":\"cat-" + std::to_string(index) + "\",\"name\":\"" + name +
         "\",\"price_cents\":" + std::to_string(price) +
         ",\"currency\":\"EUR\",\"total_stock\":" + std::to_string(stock) + ",\"description\":\"" +
         description + "\",\"category\":\"" + std::string(Pick(kCategories, seed >> 56)) +
         "\",\"tags\":[" + tags + "]" + window + "}";
}

std::string SearchTarget(std::uint64_t index) {
  return "/api/v1/products" + std::string(kTargets[Mix(index) % kTargets.size()]);
}

}  // namespace fs::loadgen
