package io.mvm.coordinator.http;

import io.javalin.http.Context;
import io.mvm.model.MvmException;
import java.net.URLEncoder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Keyset paging for every list route: {@code limit} (1-1000, default 100) and an opaque
 * {@code cursor} that names the last key a client saw. Each list has a stable order over a unique
 * key, so an item present for a whole walk is returned exactly once however the list changes in
 * between (items added behind the cursor are not seen by that walk). The answer carries the next
 * cursor as {@code next} in the body and as a {@code Link: <...>; rel="next"} header.
 */
final class Paging {
    static final int DEFAULT_LIMIT = 100;
    static final int MAX_LIMIT = 1000;
    /** Versioned, so a later key shape can refuse cursors of an earlier one with a clear 400. */
    private static final String PREFIX = "k1:";

    private Paging() {}

    /** A parsed page request: how many items, and the key after which (in the list's order) to start. */
    record Request(int limit, Optional<String> after) {
        /** One more than asked, so a full page can tell whether another follows. */
        int probe() {
            return limit + 1;
        }
    }

    /** One page: its items and the cursor of the next page, if any. */
    record Page<T>(List<T> items, Optional<String> nextKey) {}

    static Request request(Context ctx) {
        return request(ctx, DEFAULT_LIMIT);
    }

    static Request request(Context ctx, int defaultLimit) {
        String text = ctx.queryParam("limit");
        int limit = defaultLimit;
        if (text != null) {
            try {
                limit = Integer.parseInt(text);
            } catch (NumberFormatException e) {
                throw MvmException.invalid("query parameter 'limit' must be an integer 1-" + MAX_LIMIT + ", got '"
                        + text + "'");
            }
            if (limit < 1 || limit > MAX_LIMIT) {
                throw MvmException.invalid("query parameter 'limit' must be 1-" + MAX_LIMIT + ", got " + limit);
            }
        }
        return new Request(limit, Optional.ofNullable(ctx.queryParam("cursor")).map(Paging::decode));
    }

    static String encode(String key) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString((PREFIX + key).getBytes(StandardCharsets.UTF_8));
    }

    static String decode(String cursor) {
        try {
            byte[] raw = Base64.getUrlDecoder().decode(cursor);
            String text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
            if (text.startsWith(PREFIX)) {
                return text.substring(PREFIX.length());
            }
        } catch (IllegalArgumentException | CharacterCodingException e) {
            // falls through to the one message below
        }
        throw MvmException.invalid("query parameter 'cursor' is not a cursor this list gave out: '"
                + (cursor.length() > 64 ? cursor.substring(0, 64) + "..." : cursor) + "'");
    }

    /**
     * Turns rows fetched with {@link Request#probe()} as the limit (in the list's order) into a
     * page: at most {@code limit} items, and a next cursor when there were more.
     */
    static <T> Page<T> of(List<T> fetched, Request req, Function<T, String> key) {
        if (fetched.size() <= req.limit()) {
            return new Page<>(fetched, Optional.empty());
        }
        List<T> items = fetched.subList(0, req.limit());
        return new Page<>(List.copyOf(items), Optional.of(key.apply(items.getLast())));
    }

    /** Pages a small list held in memory (lists that stay small: tokens, templates, routes, VMs of a file). */
    static <T> Page<T> slice(List<T> all, Request req, Function<T, String> key) {
        List<T> sorted = new ArrayList<>(all);
        // The same order as the cursor comparison below, whatever collation the rows came in.
        sorted.sort(java.util.Comparator.comparing(key));
        List<T> fetched = new ArrayList<>(Math.min(req.probe(), sorted.size()));
        for (T t : sorted) {
            if (req.after().isPresent() && key.apply(t).compareTo(req.after().get()) <= 0) {
                continue;
            }
            fetched.add(t);
            if (fetched.size() == req.probe()) {
                break;
            }
        }
        return of(fetched, req, key);
    }

    /** Writes the Link header for the next page (same path and query, new cursor); returns the cursor. */
    static String linkNext(Context ctx, Optional<String> nextKey) {
        if (nextKey.isEmpty()) {
            return null;
        }
        String cursor = encode(nextKey.get());
        StringBuilder url = new StringBuilder(ctx.path()).append('?');
        ctx.queryParamMap().forEach((name, values) -> {
            if (!name.equals("cursor")) {
                values.forEach(v -> url.append(enc(name)).append('=').append(enc(v)).append('&'));
            }
        });
        url.append("cursor=").append(cursor);
        ctx.header("Link", "<" + url + ">; rel=\"next\"");
        return cursor;
    }

    /** The list body of one page, its Link header written. */
    static <T, V> Views.ListOf<V> listOf(Context ctx, Page<T> page, Function<T, V> view) {
        String next = linkNext(ctx, page.nextKey());
        return new Views.ListOf<>(page.items().stream().map(view).toList(), next);
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
