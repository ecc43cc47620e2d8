/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Internal to libdevbg: how the client makes a DevbgTaskInfo.
 */
#pragma once

#include "devbg-records.h"
#include "devbg-task-info.h"

G_BEGIN_DECLS

/* From one entry of ListTasks, WatchTasks, History, TaskChanged or
 * TaskEnded (a{sv}); missing or mistyped keys read as empty. */
DevbgTaskInfo *devbg_task_info_new (GVariant *properties);

/* From one packed History record (finished, no state): its properties,
 * the a{sv} History entries had before they were packed, are made only
 * when asked for. With @page (the serialized page whose memory @record's
 * strings are in, as devbg_records_parse() leaves them), the entry holds
 * @page and points into it; without, it copies them. */
DevbgTaskInfo *devbg_task_info_new_from_history (const DevbgHistoryRecord *record,
                                                 GVariant                  *page);

G_END_DECLS
