package io.mvm.coordinator.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import io.javalin.http.Context;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.Collectors;

/** Reads a JSON body under a size limit and turns every way it can be wrong into a 4xx. */
final class RequestBodies {
    private final ObjectMapper mapper;
    private final int limitBytes;

    RequestBodies(ObjectMapper mapper, int limitBytes) {
        this.mapper = mapper;
        this.limitBytes = limitBytes;
    }

    <T> T read(Context ctx, Class<T> type) {
        byte[] body = readLimited(ctx);
        if (body.length == 0 || new String(body, StandardCharsets.UTF_8).isBlank()) {
            throw MvmException.invalid("request body is empty: expected a JSON object");
        }
        try {
            T value = mapper.readValue(body, type);
            if (value == null) {
                throw MvmException.invalid("request body is null: expected a JSON object");
            }
            return value;
        } catch (UnrecognizedPropertyException e) {
            throw MvmException.invalid("unknown field '" + e.getPropertyName() + "'; known fields: "
                    + e.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", ")));
        } catch (InvalidFormatException e) {
            throw MvmException.invalid("field '" + path(e) + "' has the wrong type or format: got "
                    + e.getValue() + ", expected " + simpleType(e.getTargetType()));
        } catch (MismatchedInputException e) {
            String field = path(e);
            throw MvmException.invalid(field.isEmpty()
                    ? "request body must be a JSON object"
                    : "field '" + field + "' has the wrong type: expected " + simpleType(e.getTargetType()));
        } catch (JsonMappingException e) {
            if (e.getCause() instanceof MvmException m) {
                throw m;
            }
            throw MvmException.invalid("invalid request body: " + e.getOriginalMessage());
        } catch (InputCoercionException e) {
            throw MvmException.invalid("a number in the request body is out of range: " + e.getOriginalMessage());
        } catch (JsonProcessingException e) {
            throw MvmException.invalid("request body is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw MvmException.invalid("cannot read request body: " + e.getMessage());
        }
    }

    private byte[] readLimited(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > limitBytes) {
            throw new BodyTooLargeException(limitBytes);
        }
        try (InputStream in = ctx.req().getInputStream()) {
            byte[] data = in.readNBytes(limitBytes + 1);
            if (data.length > limitBytes) {
                throw new BodyTooLargeException(limitBytes);
            }
            return data;
        } catch (IOException e) {
            throw MvmException.invalid("cannot read request body: " + e.getMessage());
        }
    }

    private static String path(JsonMappingException e) {
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."));
    }

    private static String simpleType(Class<?> type) {
        if (type == null) {
            return "a different type";
        }
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "an integer";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "a boolean";
        }
        return "an object";
    }
}
