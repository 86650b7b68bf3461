#include "app/admin_flags.h"

#include <cstdlib>
#include <string>
#include <utility>

#include "app/secrets.h"
#include "net/http_client.h"

namespace fs::app {
namespace {

base::Status Invalid(std::string message) { return base::InvalidArgument(std::move(message)); }

// A nested command: its parent's options (--url, --json, ...) may follow its own words.
CLI::App* Command(CLI::App& parent, const char* name, const char* help) {
  CLI::App* command = parent.add_subcommand(name, help);
  command->fallthrough();
  return command;
}

void AddSkuArgument(CLI::App& command, AdminFlags& flags) {
  command.add_option("sku", flags.config.sku_id, "the sale's sku_id")->required();
}

void AddSalesCreate(CLI::App& sales, AdminFlags& flags) {
  CLI::App* create = Command(sales, "create", "create a sale (POST /admin/v1/skus)");
  AddSkuArgument(*create, flags);
  SaleDraft& sale = flags.config.sale;
  create->add_option("--name", sale.name, "name shown to buyers")->required();
  create->add_option("--price-cents", sale.price_cents, "unit price in cents")->required();
  create->add_option("--currency", sale.currency, "ISO 4217 code, e.g. EUR")->required();
  create->add_option("--total-stock", sale.total_stock, "units for sale")->required();
  flags.per_user_limit = create->add_option("--per-user-limit", flags.per_user_limit_value,
                                            "units one user may hold plus own (server: 1)");
  flags.reservation_ttl_seconds =
      create->add_option("--reservation-ttl-seconds", flags.reservation_ttl_seconds_value,
                         "how long a reservation holds its units (server: 120)");
  flags.starts_at = create->add_option("--starts-at", flags.starts_at_value,
                                       "RFC 3339 start (default: open from creation)");
  flags.ends_at = create->add_option("--ends-at", flags.ends_at_value, "RFC 3339 end");
  create->add_flag("--waiting-room", sale.waiting_room, "reserving needs a waiting-room pass");
  flags.description = create->add_option("--description", flags.description_value, "plain text");
  flags.image_url = create->add_option("--image-url", flags.image_url_value,
                                       "https:// URL or a /path served by the product");
  flags.category = create->add_option("--category", flags.category_value, "category name");
  create->add_option("--tag", sale.tags, "a tag (repeat for several)");
}

void AddSalesCommands(CLI::App& admin, AdminFlags& flags) {
  CLI::App* sales = Command(admin, "sales", "create, show, open, close a sale; change its stock");
  sales->require_subcommand(1);
  AddSalesCreate(*sales, flags);
  AddSkuArgument(*Command(*sales, "show", "a sale with its counters"), flags);
  AddSkuArgument(*Command(*sales, "open", "open a sale now (even before starts_at)"), flags);
  AddSkuArgument(*Command(*sales, "close", "close a sale now"), flags);
  CLI::App* stock = Command(*sales, "stock", "add to (or remove from) a sale's total stock");
  AddSkuArgument(*stock, flags);
  stock->add_option("--delta", flags.config.stock_delta, "units to add, negative to remove")
      ->required();
}

void AddOrderCommands(CLI::App& admin, AdminFlags& flags) {
  CLI::App* orders = Command(admin, "orders", "list orders, settle a NEEDS_ATTENTION order");
  orders->require_subcommand(1);
  CLI::App* list = Command(*orders, "list", "orders with a status, oldest first (1000 at most)");
  list->add_option("--status", flags.config.order_status, "PENDING|PAID|FAILED|NEEDS_ATTENTION")
      ->required()
      ->check(CLI::IsMember({"PENDING", "PAID", "FAILED", "NEEDS_ATTENTION"}));
  CLI::App* resolve = Command(*orders, "resolve", "settle a NEEDS_ATTENTION order by hand");
  resolve->add_option("id", flags.config.order_id, "the order_id")->required();
  resolve->add_option("--outcome", flags.config.resolve_outcome, "paid|failed")
      ->required()
      ->check(CLI::IsMember({"paid", "failed"}));
}

}  // namespace

void AddAdminCommands(CLI::App& app, AdminFlags& flags) {
  CLI::App* admin = app.add_subcommand(
      "admin", "operate a running node through its admin API (sales, orders, checks)");
  flags.admin = admin;
  admin->require_subcommand(1);
  admin->footer(
      "Token: FLASHSALE_ADMIN_TOKEN, or --admin-token-file / FLASHSALE_ADMIN_TOKEN_FILE.\n"
      "Exit codes: 0 success; 1 transport or runtime error (cannot connect, bad answer);\n"
      "2 usage error (bad flags, missing token); 3 a check failed (reconcile does not add\n"
      "up, audit chain broken); 4 the server refused the request (its error on stderr).\n");
  admin->add_option("--url", flags.config.url, "base URL of the node's API")
      ->envname("FLASHSALE_URL")
      ->capture_default_str();
  admin
      ->add_option("--admin-token-file", flags.token_file,
                   "read the admin token from this file (instead of FLASHSALE_ADMIN_TOKEN)")
      ->envname("FLASHSALE_ADMIN_TOKEN_FILE");
  admin->add_flag("--json", flags.json, "print the API's JSON answer (for scripts)");
  AddSalesCommands(*admin, flags);
  AddOrderCommands(*admin, flags);
  CLI::App* reconcile =
      Command(*admin, "reconcile", "do a sale's books balance? exit 3 when they do not");
  // The admin API lists no sales: one sale per call (flashsale reconcile reads them all).
  reconcile->add_option("--sku", flags.config.sku_id, "the sale to reconcile")->required();
  CLI::App* audit = Command(*admin, "audit", "check the audit trail");
  audit->require_subcommand(1);
  Command(*audit, "verify", "walk the audit hash chain; exit 3 when broken");
}

base::Result<AdminConfig> ValidateAdmin(AdminFlags& flags) {
  AdminConfig config = std::move(flags.config);
  const CLI::App& admin = *flags.admin;
  if (admin.got_subcommand("sales")) {
    const CLI::App* sales = admin.get_subcommand("sales");
    config.command = sales->got_subcommand("create")  ? AdminCommand::kSalesCreate
                     : sales->got_subcommand("show")  ? AdminCommand::kSalesShow
                     : sales->got_subcommand("open")  ? AdminCommand::kSalesOpen
                     : sales->got_subcommand("close") ? AdminCommand::kSalesClose
                                                      : AdminCommand::kSalesStock;
  } else if (admin.got_subcommand("orders")) {
    config.command = admin.get_subcommand("orders")->got_subcommand("list")
                         ? AdminCommand::kOrdersList
                         : AdminCommand::kOrdersResolve;
  } else if (admin.got_subcommand("reconcile")) {
    config.command = AdminCommand::kReconcile;
  } else {
    config.command = AdminCommand::kAuditVerify;
  }
  SaleDraft& sale = config.sale;
  if (flags.per_user_limit->count() > 0) sale.per_user_limit = flags.per_user_limit_value;
  if (flags.reservation_ttl_seconds->count() > 0) {
    sale.reservation_ttl_seconds = flags.reservation_ttl_seconds_value;
  }
  if (flags.starts_at->count() > 0) sale.starts_at = flags.starts_at_value;
  if (flags.ends_at->count() > 0) sale.ends_at = flags.ends_at_value;
  if (flags.description->count() > 0) sale.description = flags.description_value;
  if (flags.image_url->count() > 0) sale.image_url = flags.image_url_value;
  if (flags.category->count() > 0) sale.category = flags.category_value;
  config.format = flags.json ? OutputFormat::kJson : OutputFormat::kText;

  while (!config.url.empty() && config.url.back() == '/') config.url.pop_back();
  if (!net::CheckHttpUrl(config.url).ok()) {
    return Invalid("--url must be http://HOST:PORT or https://HOST:PORT, got '" + config.url + "'");
  }
  const char* variable = std::getenv("FLASHSALE_ADMIN_TOKEN");
  const std::string inline_token = variable == nullptr ? "" : variable;
  if (!inline_token.empty() && !flags.token_file.empty()) {
    return Invalid(
        "FLASHSALE_ADMIN_TOKEN and --admin-token-file (FLASHSALE_ADMIN_TOKEN_FILE) are both "
        "given; give one");
  }
  if (!flags.token_file.empty()) {
    auto token = ReadSecretFile(flags.token_file, "--admin-token");
    if (!token) return token.error();
    config.admin_token = std::move(*token);
  } else {
    config.admin_token = inline_token;
  }
  if (config.admin_token.empty()) {
    return Invalid("no admin token: set FLASHSALE_ADMIN_TOKEN or give --admin-token-file");
  }
  return config;
}

}  // namespace fs::app
