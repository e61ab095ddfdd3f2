package io.mvm.runtime.firecracker;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Firecracker's swagger 2.0 API description (a copy of firecracker-api.yaml, 1.17.0-dev, in the
 * test resources) and a validator for the JSON-schema subset it uses: {@code type}, {@code
 * required}, {@code properties}, {@code additionalProperties}, {@code enum}, {@code $ref}, {@code
 * items}, {@code minimum}, {@code maximum}.
 *
 * <p>Objects without {@code additionalProperties} reject unknown properties, because Firecracker
 * deserialises its request bodies with {@code deny_unknown_fields}: a misspelt field is an error
 * there, not something silently ignored.
 */
final class FirecrackerSpec {
    private final JsonNode root;

    private FirecrackerSpec(JsonNode root) {
        this.root = root;
    }

    static FirecrackerSpec load() {
        try (InputStream in = FirecrackerSpec.class.getResourceAsStream("/firecracker/firecracker-api.yaml")) {
            if (in == null) {
                throw new IllegalStateException("firecracker-api.yaml is missing from the test resources");
            }
            JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(in);
            if (!"2.0".equals(root.path("swagger").asText())) {
                throw new IllegalStateException("expected a swagger 2.0 document");
            }
            return new FirecrackerSpec(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    String version() {
        return root.path("info").path("version").asText();
    }

    /** One path + method of the spec, with the concrete path it was matched from. */
    record Operation(String template, String method, JsonNode node) {
        String operationId() {
            return node.path("operationId").asText();
        }

        /** The schema of the {@code in: body} parameter, if the operation takes a body. */
        Optional<JsonNode> bodySchema() {
            for (JsonNode parameter : node.path("parameters")) {
                if ("body".equals(parameter.path("in").asText())) {
                    return Optional.of(parameter.path("schema"));
                }
            }
            return Optional.empty();
        }

        boolean bodyRequired() {
            for (JsonNode parameter : node.path("parameters")) {
                if ("body".equals(parameter.path("in").asText())) {
                    return parameter.path("required").asBoolean(false);
                }
            }
            return false;
        }

        /** The documented response for a status: its exact code, else {@code default}. */
        Optional<JsonNode> response(int status) {
            JsonNode responses = node.path("responses");
            JsonNode exact = responses.path(Integer.toString(status));
            if (!exact.isMissingNode()) {
                return Optional.of(exact);
            }
            JsonNode fallback = responses.path("default");
            return fallback.isMissingNode() ? Optional.empty() : Optional.of(fallback);
        }

        boolean documentsStatus(int status) {
            return node.path("responses").has(Integer.toString(status));
        }
    }

    /** The operation a concrete request path ({@code /drives/root}) and method map to. */
    Optional<Operation> operation(String method, String path) {
        Iterator<Map.Entry<String, JsonNode>> paths = root.path("paths").fields();
        while (paths.hasNext()) {
            Map.Entry<String, JsonNode> entry = paths.next();
            if (matches(entry.getKey(), path)) {
                JsonNode op = entry.getValue().path(method.toLowerCase(Locale.ROOT));
                if (!op.isMissingNode()) {
                    return Optional.of(new Operation(entry.getKey(), method, op));
                }
            }
        }
        return Optional.empty();
    }

    private static boolean matches(String template, String path) {
        String[] t = template.split("/", -1);
        String[] p = path.split("/", -1);
        if (t.length != p.length) {
            return false;
        }
        for (int i = 0; i < t.length; i++) {
            boolean parameter = t[i].startsWith("{") && t[i].endsWith("}");
            if (parameter ? p[i].isEmpty() : !t[i].equals(p[i])) {
                return false;
            }
        }
        return true;
    }

    /** Every violation of {@code schema} by {@code value}; empty when it conforms. */
    List<String> validate(JsonNode value, JsonNode schema) {
        List<String> errors = new ArrayList<>();
        validate(value, schema, "$", errors);
        return errors;
    }

    private JsonNode resolve(JsonNode schema) {
        JsonNode current = schema;
        while (current.has("$ref")) {
            String ref = current.get("$ref").asText();
            if (!ref.startsWith("#/definitions/")) {
                throw new IllegalStateException("unsupported $ref " + ref);
            }
            JsonNode target = root.path("definitions").path(ref.substring("#/definitions/".length()));
            if (target.isMissingNode()) {
                throw new IllegalStateException("dangling $ref " + ref);
            }
            current = target;
        }
        return current;
    }

    private void validate(JsonNode value, JsonNode rawSchema, String where, List<String> errors) {
        JsonNode schema = resolve(rawSchema);
        String type = schema.path("type").asText(schema.has("properties") ? "object" : "");
        switch (type) {
            case "object" -> validateObject(value, schema, where, errors);
            case "array" -> {
                if (!value.isArray()) {
                    errors.add(where + ": expected an array, got " + value.getNodeType());
                    return;
                }
                for (int i = 0; i < value.size(); i++) {
                    validate(value.get(i), schema.path("items"), where + "[" + i + "]", errors);
                }
            }
            case "string" -> {
                if (!value.isTextual()) {
                    errors.add(where + ": expected a string, got " + value.getNodeType());
                }
            }
            case "integer" -> {
                if (!value.isIntegralNumber()) {
                    errors.add(where + ": expected an integer, got " + value.getNodeType());
                }
            }
            case "number" -> {
                if (!value.isNumber()) {
                    errors.add(where + ": expected a number, got " + value.getNodeType());
                }
            }
            case "boolean" -> {
                if (!value.isBoolean()) {
                    errors.add(where + ": expected a boolean, got " + value.getNodeType());
                }
            }
            case "" -> {
                // untyped schema: anything goes (only enum and bounds below apply)
            }
            default -> throw new IllegalStateException("schema type '" + type + "' is not supported by this validator");
        }
        if (schema.has("enum")) {
            boolean listed = false;
            for (JsonNode allowed : schema.get("enum")) {
                // YAML reads a bare 2M or None as text; compare as text.
                listed |= allowed.asText().equals(value.asText());
            }
            if (!listed) {
                errors.add(where + ": " + value + " is not one of " + schema.get("enum"));
            }
        }
        if (schema.has("minimum") && value.isNumber() && value.asDouble() < schema.get("minimum").asDouble()) {
            errors.add(where + ": " + value + " is below the minimum " + schema.get("minimum"));
        }
        if (schema.has("maximum") && value.isNumber() && value.asDouble() > schema.get("maximum").asDouble()) {
            errors.add(where + ": " + value + " is above the maximum " + schema.get("maximum"));
        }
    }

    private void validateObject(JsonNode value, JsonNode schema, String where, List<String> errors) {
        if (!value.isObject()) {
            errors.add(where + ": expected an object, got " + value.getNodeType());
            return;
        }
        for (JsonNode required : schema.path("required")) {
            if (!value.has(required.asText()) || value.get(required.asText()).isNull()) {
                errors.add(where + ": required property '" + required.asText() + "' is missing");
            }
        }
        JsonNode properties = schema.path("properties");
        JsonNode additional = schema.path("additionalProperties");
        Iterator<Map.Entry<String, JsonNode>> fields = value.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            String at = where + "." + field.getKey();
            if (properties.has(field.getKey())) {
                validate(field.getValue(), properties.get(field.getKey()), at, errors);
            } else if (additional.isObject()) {
                validate(field.getValue(), additional, at, errors);
            } else if (!additional.asBoolean(false)) {
                errors.add(at + ": property is not defined by the schema");
            }
        }
    }
}
