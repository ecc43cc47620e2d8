/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * GVariant's serialized form, as its documentation ("GVariant
 * Serialisation Format", gvariant-serialiser.c) defines it: a container
 * of variable-size parts ends with their framing offsets, little-endian
 * words of the smallest width that can address the container.
 */
#include "devbg-serialized.h"

#include <string.h>

/* The width of the framing offsets of a container of @size bytes. */
static guint
offset_size (gsize size)
{
  if (size > G_MAXUINT32)
    return 8;
  if (size > G_MAXUINT16)
    return 4;
  if (size > G_MAXUINT8)
    return 2;
  return size > 0 ? 1 : 0;
}

static gsize
read_offset (const guint8 *p, guint width)
{
  gsize value = 0;

  for (guint i = width; i > 0; i--)
    value = (value << 8) | p[i - 1];
  return value;
}

/* Moves *@offset past the zero padding up to @alignment_mask, which must
 * end by @limit. */
static gboolean
skip_padding (const guint8 *data, gsize *offset, gsize limit, guint alignment_mask)
{
  while (*offset & alignment_mask)
    {
      if (*offset >= limit || data[*offset] != 0)
        return FALSE;
      (*offset)++;
    }
  return TRUE;
}

gboolean
devbg_serialized_array_init (DevbgSerializedArray *iter, DevbgSerialized array,
                             guint element_alignment_mask)
{
  gsize last_end, table;

  memset (iter, 0, sizeof *iter);
  iter->array = array;
  iter->alignment_mask = element_alignment_mask;
  if (array.size == 0)
    return TRUE;
  iter->offset_size = offset_size (array.size);
  last_end = read_offset (array.data + array.size - iter->offset_size, iter->offset_size);
  if (last_end > array.size)
    return FALSE;
  table = array.size - last_end;
  if (table == 0 || table % iter->offset_size != 0)
    return FALSE;
  iter->n = table / iter->offset_size;
  iter->data_end = last_end;
  return TRUE;
}

gboolean
devbg_serialized_array_next (DevbgSerializedArray *iter, DevbgSerialized *element, gboolean *done)
{
  gsize start = iter->end, end;

  *done = iter->i == iter->n;
  if (*done)
    return TRUE;
  end = read_offset (iter->array.data + iter->data_end + iter->i * iter->offset_size,
                     iter->offset_size);
  if (end < start || end > iter->data_end ||
      !skip_padding (iter->array.data, &start, end, iter->alignment_mask))
    return FALSE;
  element->data = iter->array.data + start;
  element->size = end - start;
  iter->end = end;
  iter->i++;
  return TRUE;
}

gboolean
devbg_serialized_pair (DevbgSerialized pair, guint second_alignment_mask, const char **first,
                       DevbgSerialized *second)
{
  guint width = offset_size (pair.size);
  gsize first_end, start, limit;

  /* The first member's end is the one framing offset; the second, last,
   * runs up to it. */
  if (pair.size == 0)
    return FALSE;
  limit = pair.size - width;
  first_end = read_offset (pair.data + limit, width);
  if (first_end > limit ||
      !devbg_serialized_string ((DevbgSerialized) { pair.data, first_end }, first))
    return FALSE;
  start = first_end;
  if (!skip_padding (pair.data, &start, limit, second_alignment_mask))
    return FALSE;
  second->data = pair.data + start;
  second->size = limit - start;
  return TRUE;
}

gboolean
devbg_serialized_variant (DevbgSerialized variant, const char **type, gsize *type_length,
                          DevbgSerialized *value)
{
  const guint8 *separator;
  const char *end;

  /* The value, a NUL, then the type string, which holds no NUL. */
  separator = variant.size > 0 ? memrchr (variant.data, 0, variant.size) : NULL;
  if (separator == NULL)
    return FALSE;
  *type = (const char *) separator + 1;
  *type_length = variant.data + variant.size - (separator + 1);
  if (!g_variant_type_string_scan (*type, *type + *type_length, &end) ||
      end != *type + *type_length ||
      !g_variant_type_is_definite ((const GVariantType *) *type))
    return FALSE;
  value->data = variant.data;
  value->size = separator - variant.data;
  return TRUE;
}

gboolean
devbg_serialized_string (DevbgSerialized value, const char **string)
{
  /* g_utf8_validate_len() refuses a NUL inside. */
  if (value.size == 0 || value.data[value.size - 1] != 0 ||
      !g_utf8_validate_len ((const char *) value.data, value.size - 1, NULL))
    return FALSE;
  *string = (const char *) value.data;
  return TRUE;
}

gboolean
devbg_serialized_boolean (DevbgSerialized value, gboolean *boolean)
{
  if (value.size != 1 || value.data[0] > 1)
    return FALSE;
  *boolean = value.data[0];
  return TRUE;
}

gboolean
devbg_serialized_strv (DevbgSerialized value, char ***strv)
{
  DevbgSerializedArray iter;
  g_autoptr(GPtrArray) strings = NULL;
  DevbgSerialized element;
  gboolean done;

  if (!devbg_serialized_array_init (&iter, value, DEVBG_SERIALIZED_ALIGN_1))
    return FALSE;
  if (strv != NULL)
    strings = g_ptr_array_new_full (iter.n + 1, g_free);
  for (;;)
    {
      const char *string;

      if (!devbg_serialized_array_next (&iter, &element, &done))
        return FALSE;
      if (done)
        break;
      if (!devbg_serialized_string (element, &string))
        return FALSE;
      if (strings != NULL)
        g_ptr_array_add (strings, g_strdup (string));
    }
  if (strv != NULL)
    {
      g_ptr_array_add (strings, NULL);
      g_ptr_array_set_free_func (strings, NULL);
      *strv = (char **) g_ptr_array_free (g_steal_pointer (&strings), FALSE);
    }
  return TRUE;
}

/* ---- the writer ---- */

/* A container's size once its @n framing offsets are added to @body:
 * the offsets are as wide as that size needs. */
static gsize
size_with_offsets (gsize body, gsize n)
{
  if (body + n <= G_MAXUINT8)
    return body + n;
  if (body + 2 * n <= G_MAXUINT16)
    return body + 2 * n;
  if (body + 4 * n <= G_MAXUINT32)
    return body + 4 * n;
  return body + 8 * n;
}

static void
append_offset (GByteArray *data, gsize value, guint width)
{
  guint8 word[8];

  for (guint i = 0; i < width; i++)
    word[i] = (value >> (8 * i)) & 0xff;
  g_byte_array_append (data, word, width);
}

static void
pad (GByteArray *data, gsize start, guint alignment_mask)
{
  static const guint8 zeros[8] = { 0 };

  g_byte_array_append (data, zeros, (-(data->len - start)) & alignment_mask);
}

void
devbg_serialized_writer_init (DevbgSerializedWriter *writer)
{
  writer->data = g_byte_array_new ();
  writer->ends = g_array_new (FALSE, FALSE, sizeof (gsize));
}

void
devbg_serialized_writer_add_pair (DevbgSerializedWriter *writer, const char *first,
                                  const guint8 *second, gsize second_size)
{
  GByteArray *data = writer->data;
  gsize start, first_end, size;

  /* The element, and the second member in it, 8-aligned; the pair ends
   * with its one framing offset, the end of @first. */
  pad (data, 0, DEVBG_SERIALIZED_ALIGN_8);
  start = data->len;
  g_byte_array_append (data, (const guint8 *) first, strlen (first) + 1);
  first_end = data->len - start;
  pad (data, start, DEVBG_SERIALIZED_ALIGN_8);
  g_byte_array_append (data, second, second_size);
  size = size_with_offsets (data->len - start, 1);
  append_offset (data, first_end, size - (data->len - start));
  g_array_append_val (writer->ends, (gsize) { data->len });
}

GBytes *
devbg_serialized_writer_end (DevbgSerializedWriter *writer)
{
  gsize n = writer->ends->len;
  guint width = n > 0 ? (size_with_offsets (writer->data->len, n) - writer->data->len) / n : 0;

  for (gsize i = 0; i < n; i++)
    append_offset (writer->data, g_array_index (writer->ends, gsize, i), width);
  g_clear_pointer (&writer->ends, g_array_unref);
  return g_byte_array_free_to_bytes (g_steal_pointer (&writer->data));
}

void
devbg_serialized_writer_clear (DevbgSerializedWriter *writer)
{
  g_clear_pointer (&writer->data, g_byte_array_unref);
  g_clear_pointer (&writer->ends, g_array_unref);
}
