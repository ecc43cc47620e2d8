/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A strict reader of GVariant's serialized form (little-endian), for the
 * few shapes a ListDevices page is made of: arrays of variable-size
 * elements, pairs (s X) and {s X}, variants, strings, booleans and string
 * arrays. It reads them in place, without a GVariant per value: through
 * GVariant's accessors a device of ten properties took 15 us to read, most
 * of a 1,000-device list's time.
 *
 * Every function checks what it reads is in normal form (in bounds,
 * framing offsets in order, padding zero, strings NUL-terminated UTF-8)
 * and answers FALSE on anything else, so that what it accepts is what
 * g_variant_is_normal_form() accepts (the fuzz target checks both ways).
 * A FALSE leaves the outputs undefined.
 *
 * Its writer makes an array of (s X) pairs, X already serialized, byte
 * for byte as GVariant would: devbgd's ListDevices pages, from each
 * device's kept a{sv}, without a GVariant per device.
 *
 * Internal to devbg (libdevbg and its fuzz target); not an installed header.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Bytes of one serialized value, pointing into a buffer someone holds. */
typedef struct {
  const guint8 *data;
  gsize         size;
} DevbgSerialized;

/* Alignment masks (alignment - 1) of GVariant's types, for the element
 * and member arguments below. */
#define DEVBG_SERIALIZED_ALIGN_1 0u /* s, b, y, as */
#define DEVBG_SERIALIZED_ALIGN_8 7u /* v, and containers that hold one */

/* Walks an array of variable-size elements ("as", "a{sv}", "a(sa{sv})"). */
typedef struct {
  DevbgSerialized array;
  guint           alignment_mask; /* of the element type */
  guint           offset_size;    /* of the array's framing offsets */
  gsize           n;              /* elements */
  gsize           i;              /* the next one */
  gsize           end;            /* where element i - 1 ends */
  gsize           data_end;       /* where the framing offsets start */
} DevbgSerializedArray;

/* FALSE when @array's framing offsets do not frame a whole number of
 * elements (an empty array is 0 bytes). */
gboolean devbg_serialized_array_init (DevbgSerializedArray *iter,
                                      DevbgSerialized       array,
                                      guint                 element_alignment_mask);
/* The next element in *@element: TRUE with *@done FALSE, or TRUE with
 * *@done TRUE after the last; FALSE when the element's bounds or padding
 * are not in normal form. */
gboolean devbg_serialized_array_next (DevbgSerializedArray *iter,
                                      DevbgSerialized      *element,
                                      gboolean             *done);

/* A pair (s X) or {s X}, X last and of variable size: its string and
 * X's bytes. */
gboolean devbg_serialized_pair       (DevbgSerialized  pair,
                                      guint            second_alignment_mask,
                                      const char     **first,
                                      DevbgSerialized *second);

/* A variant: its value's bytes and its type string (not NUL-terminated:
 * *@type_length bytes), a single complete type. The value is not read. */
gboolean devbg_serialized_variant    (DevbgSerialized  variant,
                                      const char     **type,
                                      gsize           *type_length,
                                      DevbgSerialized *value);

/* A string ("s"): NUL-terminated, no NUL inside, UTF-8. */
gboolean devbg_serialized_string     (DevbgSerialized  value,
                                      const char     **string);
/* A boolean ("b"): one byte, 0 or 1. */
gboolean devbg_serialized_boolean    (DevbgSerialized  value,
                                      gboolean        *boolean);
/* A string array ("as"), checked whole; its copy in *@strv (free with
 * g_strfreev()) unless @strv is NULL. */
gboolean devbg_serialized_strv       (DevbgSerialized  value,
                                      char          ***strv);

/* Writes an array of pairs (s X), X 8-aligned and last, in a GByteArray. */
typedef struct {
  GByteArray *data;
  GArray     *ends; /* gsize: where each element ends */
} DevbgSerializedWriter;

void    devbg_serialized_writer_init     (DevbgSerializedWriter *writer);
/* Appends the pair (@first, X) with X's serialized bytes @second. */
void    devbg_serialized_writer_add_pair (DevbgSerializedWriter *writer,
                                          const char            *first,
                                          const guint8          *second,
                                          gsize                  second_size);
/* The array's bytes, its framing offsets written; the writer is done
 * with, as after devbg_serialized_writer_clear(). */
GBytes *devbg_serialized_writer_end      (DevbgSerializedWriter *writer);
/* Drops what the writer holds (nothing after _end()). */
void    devbg_serialized_writer_clear    (DevbgSerializedWriter *writer);

G_END_DECLS
