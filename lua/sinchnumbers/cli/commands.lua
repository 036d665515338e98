-- The commands of `sinchnumbers`, as data: each entry names its arguments,
-- its flags (from the catalogue below), the client method it calls and how
-- its answer is shown. cli/init.lua turns the table into the argparse parser
-- and runs the chosen entry; nothing here knows about terminals or output.
--
-- An entry:
--   name        the word on the command line
--   summary     one line for --help (and the man page)
--   commands    for a group (callbacks, emergency, orders, bulk): its entries
--   arguments   positional arguments: { name, help, many = true for 1 or more }
--   flags       keys of FLAGS; a trailing "!" makes the flag required
--   call        the client method; its arguments are the positional values,
--               then the body or params that the flags make (when its endpoint
--               takes one)
--   input       where the body comes from instead of the flags: "secret"
--               (read from stdin, never from argv)
--   each        the method is called once for each value of the first
--               (many) argument
--   answer      the field of the answer that holds the rows (a list answer)
--   view        how a row is shown (see output.lua's VIEWS)
--   confirm     what the question before it shows: "rent", "rent_any",
--               "release", "submit", "bulk_rent" or "bulk_release" (money or
--               loss: see cli/init.lua's PREVIEWS)
--   unclear     it must not be repeated blindly: a failure whose outcome is
--               unknown exits 7
--   run         a runner of cli/init.lua's own instead of one call: "list",
--               "configure", "bulk"
--   bulk        for bulk runs: "rent", "update" or "release"
local commands = {}

local NUMBER_TYPES = { "LOCAL", "MOBILE", "TOLL_FREE" }
local CAPABILITIES = { "SMS", "VOICE" }
local SEARCH_PATTERNS = { "START", "CONTAINS", "END" }

-- Every flag a command may take: its option, its help, and where its value
-- goes in the request (a dotted path; `also` sets other fields with it).
-- count "*": the flag may be given more than once (a list).
commands.FLAGS = {
  region = { option = "--region", help = "Region code, two capital letters (e.g. US)", to = "regionCode" },
  type = { option = "--type", help = "Number type", choices = NUMBER_TYPES, to = "type" },
  types = { option = "--type", help = "Number type (more than once for several)", choices = NUMBER_TYPES,
            count = "*", to = "types" },
  number_type = { option = "--type", help = "Number type", choices = NUMBER_TYPES, to = "numberType" },
  pattern = { option = "--pattern", help = "Digits the number has (e.g. 206)", to = "numberPattern.pattern" },
  where = { option = "--where", help = "Where the pattern is in the number", choices = SEARCH_PATTERNS,
            to = "numberPattern.searchPattern" },
  capability = { option = "--capability", help = "A capability the number must have (more than once for several)",
                 choices = CAPABILITIES, count = "*", to = "capabilities" },
  size = { option = "--limit", help = "At most this many numbers (1 to 100)", convert = "integer", to = "size" },
  limit = { option = "--limit", help = "At most this many numbers (default 50)", convert = "integer",
            local_only = true },
  all = { option = "--all", help = "Every number, page after page", flag = true, local_only = true },
  name = { option = "--name", help = "The number's display name", to = "displayName" },
  service_plan = { option = "--service-plan", help = "SMS service plan id", to = "smsConfiguration.servicePlanId" },
  campaign = { option = "--campaign", help = "SMS campaign id (US 10DLC)", to = "smsConfiguration.campaignId" },
  voice_app = { option = "--voice-app", help = "Voice application id (RTC)", to = "voiceConfiguration.appId",
                also = { ["voiceConfiguration.type"] = "RTC" } },
  callback_url = { option = "--callback-url", help = "URL for the number's events", to = "callbackUrl" },
  -- An emergency address.
  display_name = { option = "--name", help = "Name at the address", to = "displayName" },
  street_number = { option = "--street-number", help = "Street number", to = "address.streetNumber" },
  street = { option = "--street", help = "Street", to = "address.streetInfo" },
  city = { option = "--city", help = "City", to = "address.city" },
  state = { option = "--state", help = "State (e.g. WA)", to = "address.state" },
  postal_code = { option = "--postal-code", help = "Postal code", to = "address.postalCode" },
  location = { option = "--location", help = "Suite, floor, ...", to = "address.location" },
  -- A number order.
  numbers = { option = "--number", help = "A number to order (more than once for several)", count = "*",
              to = "numberOrderOption.phoneNumbers" },
  quantity = { option = "--quantity", help = "How many numbers to order, any that fit", convert = "integer",
               to = "quantityOrderOption.requestedQuantity" },
  -- Bulk runs.
  from = { option = "--from", help = "File of E.164 numbers, one a line (- for stdin)", local_only = true },
  concurrency = { option = "--concurrency", help = "Calls in flight at once (default 8)", convert = "integer",
                  local_only = true },
}

local NUMBER = { name = "number", help = "The phone number, in E.164 form (e.g. +12065550100)" }
local NUMBERS = { name = "number", help = "The phone numbers, in E.164 form", many = true }
local ORDER = { name = "order_id", help = "The number order's id" }

local CONFIGURATION = { "service_plan", "campaign", "voice_app", "callback_url" }
local ADDRESS = { "display_name!", "street_number!", "street!", "city!", "state!", "postal_code!", "location" }

local function with(list, more)
  local joined = {}
  for _, item in ipairs(list) do joined[#joined + 1] = item end
  for _, item in ipairs(more) do joined[#joined + 1] = item end
  return joined
end

local function emergency(name, summary, call, flags)
  return { name = name, summary = summary, arguments = { NUMBER }, flags = flags, call = call, view = "fields" }
end

commands.LIST = {
  { name = "regions", summary = "List the regions where numbers can be had",
    flags = { "types" }, call = "list_available_regions", answer = "availableRegions", view = "region" },
  { name = "search", summary = "Search the numbers available to rent",
    flags = { "region!", "type!", "pattern", "where", "capability", "size" },
    call = "list_available_numbers", answer = "availableNumbers", view = "available" },
  { name = "available", summary = "Show one available number, with its price",
    arguments = { NUMBER }, call = "get_available_number", view = "available" },
  { name = "rent", summary = "Rent a number (asks first: it costs money)",
    arguments = { NUMBER }, flags = CONFIGURATION, call = "rent_number", view = "active",
    confirm = "rent", unclear = true },
  { name = "rent-any", summary = "Rent any number that fits (asks first: it costs money)",
    flags = with({ "region!", "type!", "pattern", "where", "capability" }, CONFIGURATION),
    call = "rent_any_number", view = "active", confirm = "rent_any", unclear = true },
  { name = "list", summary = "List the project's numbers (the first 50, or --limit N, or --all)",
    flags = { "region", "type", "pattern", "where", "capability", "limit", "all" }, run = "list", view = "active" },
  { name = "show", summary = "Show one of the project's numbers",
    arguments = { NUMBER }, call = "get_active_number", view = "active" },
  { name = "update", summary = "Change a number's name or configuration",
    arguments = { NUMBER }, flags = with({ "name" }, CONFIGURATION), call = "update_active_number", view = "active" },
  { name = "release", summary = "Release numbers from the project (asks first)",
    arguments = { NUMBERS }, call = "release_number", each = true, view = "active",
    confirm = "release", unclear = true },
  { name = "callbacks", summary = "The project's callback configuration", commands = {
    { name = "show", summary = "Show the callback configuration (the HMAC secret hidden)",
      call = "get_callback_configuration", view = "callbacks" },
    { name = "set-secret", summary = "Set the HMAC secret of the project's callbacks, read from stdin",
      call = "update_callback_configuration", input = "secret", view = "callbacks" },
  } },
  { name = "emergency", summary = "A number's emergency (E911) address", commands = {
    emergency("show", "Show the number's emergency address", "get_emergency_address"),
    emergency("provision", "Give the number an emergency address", "provision_emergency_address", ADDRESS),
    emergency("deprovision", "Remove the number's emergency address", "deprovision_emergency_address"),
    emergency("validate", "Check an address without provisioning it", "validate_emergency_address", ADDRESS),
  } },
  { name = "orders", summary = "Number orders, for numbers that need registration", commands = {
    { name = "requirements", summary = "What a region and type need (fields, documents)",
      flags = { "region!", "number_type!" }, call = "lookup_number_requirements", view = "fields" },
    { name = "create", summary = "Create a number order (--number ... or --quantity N)",
      flags = with({ "region!", "number_type!", "numbers", "quantity" }, CONFIGURATION),
      call = "create_number_order", view = "fields", unclear = true },
    { name = "show", summary = "Show a number order", arguments = { ORDER }, call = "get_number_order",
      view = "fields" },
    { name = "submit", summary = "Submit a number order for review (asks first: it costs money)",
      arguments = { ORDER }, call = "submit_number_order", view = "fields", confirm = "submit", unclear = true },
  } },
  { name = "bulk", summary = "Many numbers at once, from a file (one E.164 number a line)", commands = {
    { name = "rent", summary = "Rent every number of the file (asks first)", run = "bulk", bulk = "rent",
      flags = with({ "from!", "concurrency" }, CONFIGURATION), confirm = "bulk_rent", unclear = true, view = "bulk" },
    { name = "update", summary = "Change the configuration of every number of the file", run = "bulk",
      bulk = "update", flags = with({ "from!", "concurrency", "name" }, CONFIGURATION), view = "bulk" },
    { name = "release", summary = "Release every number of the file (asks first)", run = "bulk", bulk = "release",
      flags = { "from!", "concurrency" }, confirm = "bulk_release", unclear = true, view = "bulk" },
  } },
  { name = "configure", summary = "Write a profile (the key secret is read without echo)", run = "configure" },
}

-- The flag key and whether it is required, from "region!".
function commands.flag_key(written)
  local key = written:gsub("!$", "")
  return key, key ~= written
end

return commands
