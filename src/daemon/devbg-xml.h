/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Small helpers shared by the manifest and metadata parsers (GMarkup).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "m2:Task" -> "Task": Windows 8.1 manifests put device tasks in the m2
 * namespace; devbg reads elements by local name. */
const char *devbg_xml_local_name (const char *element);

/* Like g_markup_collect_attributes() for string attributes only: pairs of
 * name and const char ** location, NULL-terminated; a name starting with '?'
 * is optional. xmlns declarations are ignored; any other unknown attribute
 * is an error naming it. */
gboolean devbg_xml_collect (GMarkupParseContext *ctx,
                            const char          *element,
                            const char         **names,
                            const char         **values,
                            GError             **error,
                            const char          *first_name,
                            ...);

/* Sets a G_MARKUP_ERROR_INVALID_CONTENT error; returns FALSE. The parse
 * context adds the line and column. */
gboolean devbg_xml_fail (GMarkupParseContext *ctx,
                         GError             **error,
                         const char          *format,
                         ...) G_GNUC_PRINTF (3, 4);

/* A GMarkupParser text callback that allows only whitespace. */
void devbg_xml_text_whitespace_only (GMarkupParseContext *ctx,
                                     const char          *text,
                                     gsize                len,
                                     gpointer             user_data,
                                     GError             **error);

/* The *.xml files in @dir, sorted by name. A missing directory gives an
 * empty list; any other failure is appended to @problems. */
GPtrArray *devbg_xml_list_dir (const char *dir,
                               GPtrArray  *problems);

G_END_DECLS
