-- The Markdown processor of `make docs` (config.ld: format = "ldoc_discount"):
-- Debian's lua-discount, without SmartyPants, which would turn the "--" of a
-- command-line option into a dash and straight quotes into curly ones.
local discount = require "discount"

return function(text)
  return discount.to_html(text, "nopants")
end
