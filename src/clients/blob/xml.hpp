// The little XML the Blob service answers with (error bodies, List Blobs), read by a plain
// scanner: find an element by name, take its text, decode the five entities and character
// references. Not a general parser: no DTDs, no CDATA, no namespaces, none of which the service
// sends. Malformed input yields "not found", never a crash or an unbounded scan.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vc::blob {

struct XmlElement {
  std::string_view attributes;  // raw text between the name and '>'
  std::string_view inner;       // raw content, entities not yet decoded; empty for <x/>
};

// Every <name ...>...</name> (or <name/>) in order, scanning from the start. An element whose
// closing tag is missing ends the scan.
std::vector<XmlElement> XmlElements(std::string_view xml, std::string_view name);

// The decoded text of the first <name> element.
std::optional<std::string> XmlFirstText(std::string_view xml, std::string_view name);

// &amp; &lt; &gt; &quot; &apos; &#NN; &#xHH; decoded (as UTF-8); anything else kept verbatim.
std::string XmlUnescape(std::string_view text);

// The value of attribute `name` in an element's attribute text, decoded.
std::optional<std::string> XmlAttribute(std::string_view attributes, std::string_view name);

}  // namespace vc::blob
