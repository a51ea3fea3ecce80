/// The OpenAPI 3.0 description of both APIs, served at `/openapi.json`.
///
/// Written by hand next to the routes it describes; a test checks it against real responses and
/// schemathesis fuzzes the running server with it.
enum OpenAPIDocument {
    static func json(version: String, maxNewTokens: Int) -> String {
        let errors = """
            "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
            "413": {"$ref": "#/components/responses/Error"}, "415": {"$ref": "#/components/responses/Error"},
            "422": {"$ref": "#/components/responses/Error"}, "429": {"$ref": "#/components/responses/Error"},
            "503": {"$ref": "#/components/responses/Error"}, "504": {"$ref": "#/components/responses/Error"}
            """
        let recordFilters = """
            {"name": "q", "in": "query", "description": "words that must all appear in the question, context or answer", "schema": {"type": "string"}},
                            {"name": "source", "in": "query", "schema": {"type": "string", "enum": ["api", "openai", "page", "ask", "batch", "compare", "regress"]}},
                            {"name": "model", "in": "query", "schema": {"type": "string"}},
                            {"name": "run_id", "in": "query", "schema": {"type": "string"}},
                            {"name": "since", "in": "query", "description": "a day (2026-12-01) or ISO 8601 time, UTC", "schema": {"type": "string"}},
                            {"name": "until", "in": "query", "description": "a day (inclusive) or ISO 8601 time, UTC", "schema": {"type": "string"}},
                            {"name": "has_model_input", "in": "query", "description": "1: only analyses with a copy of the model's input (--record-images model-input)",
                             "schema": {"type": "string", "enum": ["1", "0", "true", "false"]}}
            """
        return """
            {
              "openapi": "3.0.3",
              "info": {
                "title": "MedGemma Vision Lab",
                "version": "\(version)",
                "description": "Research and teaching use only — not for diagnosis. The article's API (/api/*) and an OpenAI-compatible API (/v1/*)."
              },
              "paths": {
                "/api/health": {"get": {"operationId": "health", "summary": "Model load state, backend and queue",
                  "responses": {"200": {"description": "state", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                                "401": {"$ref": "#/components/responses/Error"}}}},
                "/api/predict": {"post": {"operationId": "predict", "summary": "Ask a question about one or more images",
                  "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "image": {"type": "string", "format": "binary"}, "question": {"type": "string"},
                      "max_new_tokens": {"type": "integer"}, "context": {"type": "string"}, "window": {"type": "string"},
                      "stream": {"type": "string"}, "volume": {"type": "string"}, "max_slices": {"type": "integer"}}}}}},
                  "responses": {"200": {"description": "the answer (JSON), or server-sent events when stream is true",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictResponse"}},
                                "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}}}, \(errors)}}},
                "/api/analyses": {"get": {"operationId": "listAnalyses", "summary": "The lab record, newest first: search and filter",
                  "parameters": [\(recordFilters),
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}},
                    {"name": "cursor", "in": "query", "description": "next_cursor of the previous page", "schema": {"type": "string"}}],
                  "responses": {"200": {"description": "one page", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnalysisPage"}}}},
                                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                                "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/analyses/export": {"get": {"operationId": "exportAnalyses", "summary": "Every matching analysis as JSON Lines or CSV, streamed",
                  "parameters": [\(recordFilters),
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["jsonl", "csv"], "default": "jsonl"}}],
                  "responses": {"200": {"description": "a download", "content": {"application/x-ndjson": {"schema": {"type": "string"}},
                                                                                  "text/csv": {"schema": {"type": "string"}}}},
                                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                                "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/analyses/{id}": {
                  "get": {"operationId": "getAnalysis", "summary": "One analysis in full",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the analysis", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Analysis"}}}},
                                  "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
                                  "503": {"$ref": "#/components/responses/Error"}}},
                  "delete": {"operationId": "deleteAnalysis", "summary": "Delete one analysis",
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"204": {"description": "deleted"}, "401": {"$ref": "#/components/responses/Error"},
                                  "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/analyses/{id}/thumbnail.png": {"get": {"operationId": "analysisThumbnail", "summary": "The image as the model saw it, at most 256 px",
                  "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "image", "in": "query", "description": "which image (0-based; default the last)", "schema": {"type": "integer", "minimum": 0}}],
                  "responses": {"200": {"description": "PNG", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                                "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/analyses/{id}/model-input.png": {"get": {"operationId": "analysisModelInput",
                  "summary": "The exact square the model was given, pixels only (kept with --record-images model-input; 404 otherwise)",
                  "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "image", "in": "query", "description": "which image (0-based; default the last)", "schema": {"type": "integer", "minimum": 0}}],
                  "responses": {"200": {"description": "PNG", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                                "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/experiments/compare": {"post": {"operationId": "compareExperiment", "summary": "Every phrasing about every image, side by side (kept in the record)",
                  "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CompareRequest"}}}},
                  "responses": {"200": {"description": "the grid (JSON), or server-sent events: one per cell as it finishes, then {done, grid}",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CompareGrid"}},
                                "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}}}, \(errors)}}},
                "/api/experiments": {"get": {"operationId": "listExperiments", "summary": "Saved grids or regression runs, newest first",
                  "parameters": [{"name": "kind", "in": "query", "schema": {"type": "string", "enum": ["compare", "regression"], "default": "compare"}},
                    {"name": "set", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}],
                  "responses": {"200": {"description": "summaries", "content": {"application/json": {"schema": {"type": "object", "required": ["experiments"],
                    "properties": {"experiments": {"type": "array", "items": {"$ref": "#/components/schemas/ExperimentSummary"}}}}}}},
                                "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                                "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/experiments/{id}": {"get": {"operationId": "getExperiment", "summary": "A grid or a regression run: JSON, self-contained HTML, or CSV",
                  "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "html", "csv"], "default": "json"}}],
                  "responses": {"200": {"description": "the experiment", "content": {"application/json": {"schema": {"type": "object"}},
                      "text/html": {"schema": {"type": "string"}}, "text/csv": {"schema": {"type": "string"}}}},
                    "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                    "404": {"$ref": "#/components/responses/Error"}, "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/regression-runs": {
                  "post": {"operationId": "runRegressionSet", "summary": "Run a regression set sent as a ZIP (the YAML or JSON set and its images)",
                    "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary",
                      "description": "the bytes of a ZIP file (sent as application/zip or application/octet-stream)"}}}},
                    "responses": {"200": {"description": "the run's report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RegressionReport"}}}},
                                  \(errors)}},
                  "get": {"operationId": "listRegressionRuns", "summary": "Runs of a set (or of all sets), newest first, with pass rate and model checksum",
                    "parameters": [{"name": "set", "in": "query", "schema": {"type": "string"}},
                      {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}],
                    "responses": {"200": {"description": "runs", "content": {"application/json": {"schema": {"type": "object", "required": ["runs"],
                      "properties": {"runs": {"type": "array", "items": {"$ref": "#/components/schemas/ExperimentSummary"}}}}}}},
                                  "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"},
                                  "503": {"$ref": "#/components/responses/Error"}}}},
                "/api/render": {"post": {"operationId": "render", "summary": "Preview an image with window, frame, slice and region, or the model's input",
                  "description": "The rendered frame before letterboxing; with model_input the letterboxed square the model receives (as medlab convert --model-input writes it) and its geometry.",
                  "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RenderRequest"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                      "image": {"type": "string", "format": "binary"}, "window": {"type": "string"}, "frame": {"type": "integer"},
                      "slice": {"type": "integer"}, "model_input": {"type": "string"}}}}}},
                  "responses": {"200": {"description": "PNG (preview or model input) and identifier-free metadata",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Rendered"}}}}, \(errors)}}},
                "/v1/chat/completions": {"post": {"operationId": "chatCompletions", "summary": "OpenAI-compatible chat completion",
                  "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatRequest"}}}},
                  "responses": {"200": {"description": "completion, or chunks as server-sent events ending with [DONE]",
                    "headers": {"X-Analysis-Id": {"description": "the lab record's id of this analysis (absent with --no-record)", "schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletion"}},
                                "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}}}, \(errors)}}},
                "/v1/models": {"get": {"operationId": "listModels",
                  "responses": {"200": {"description": "the loaded model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}},
                                "401": {"$ref": "#/components/responses/Error"}}}},
                "/v1/models/{id}": {"get": {"operationId": "getModel",
                  "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                  "responses": {"200": {"description": "the model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Model"}}}},
                                "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}}},
                "/metrics": {"get": {"operationId": "metrics",
                  "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}},
                                "401": {"$ref": "#/components/responses/Error"}}}}
              },
              "components": {
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                "responses": {"Error": {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
                "schemas": {
                  "ServerSentEvent": {"type": "object", "description": "one event of a stream (Open API 3.0: the schema describes each event); data is JSON text, or [DONE] on /v1",
                    "required": ["data"], "properties": {"data": {"type": "string"}, "event": {"type": "string"}, "id": {"type": "string"}, "retry": {"type": "integer"}}},
                  "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message", "type"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"}}}}},
                  "Window": {"oneOf": [{"type": "string", "description": "lung, mediastinum, bone, brain, abdomen, or 'center,width'"},
                    {"type": "object", "required": ["center", "width"], "properties": {"center": {"type": "number"}, "width": {"type": "number"}}}]},
                  "Region": {"type": "object", "description": "points [[x, y], ...] or rect [x0, y0, x1, y1] in original pixels",
                    "properties": {"points": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
                                   "rect": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4}}},
                  "PredictRequest": {"type": "object", "required": ["question"], "properties": {
                    "image": {"type": "string", "description": "data:image/...;base64,... or bare base64 (PNG, JPEG, DICOM, NIfTI)"},
                    "images": {"type": "array", "items": {"type": "string"}},
                    "question": {"type": "string"},
                    "max_new_tokens": {"type": "integer", "minimum": 1, "maximum": \(maxNewTokens), "default": 512},
                    "context": {"type": "string"}, "system": {"type": "string"},
                    "window": {"$ref": "#/components/schemas/Window"}, "frame": {"type": "integer", "minimum": 0},
                    "slice": {"type": "integer", "minimum": 0}, "region": {"$ref": "#/components/schemas/Region"},
                    "temperature": {"type": "number", "minimum": 0, "maximum": 2}, "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                    "seed": {"type": "integer", "minimum": 0, "maximum": 4294967295}, "stream": {"type": "boolean"},
                    "volume": {"description": "treat the images as one volume (Google's CT recipe): true/auto, ct, grey, or false",
                      "oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["auto", "ct", "grey"]}]},
                    "max_slices": {"type": "integer", "minimum": 2, "description": "most slices of a volume to show (default: 85, or what the context holds)"},
                    "schema": {"type": "object", "description": "a JSON Schema the answer must follow (grammar-constrained; docs/structured-output.md lists the keywords)"},
                    "format": {"type": "string", "enum": ["json"], "description": "json: the answer is any JSON object"}}},
                  "VolumeSummary": {"type": "object", "required": ["packing", "slices_shown", "slices_total", "slice_numbers"], "properties": {
                    "packing": {"type": "string", "enum": ["ct", "grey"]}, "slices_shown": {"type": "integer"}, "slices_total": {"type": "integer"},
                    "slice_numbers": {"type": "array", "items": {"type": "integer"}}, "note": {"type": "string"}}},
                  "PixelBox": {"type": "object", "required": ["label", "x0", "y0", "x1", "y1", "box_2d", "image"], "properties": {
                    "label": {"type": "string"}, "x0": {"type": "number"}, "y0": {"type": "number"}, "x1": {"type": "number"},
                    "y1": {"type": "number"}, "box_2d": {"type": "array", "items": {"type": "number"}}, "image": {"type": "integer"}}},
                  "PredictResponse": {"type": "object", "required": ["answer", "boxes", "model", "demo", "finish_reason", "usage", "timings", "disclaimer"],
                    "properties": {
                      "answer": {"type": "string"}, "reasoning": {"type": "string"},
                      "boxes": {"type": "array", "items": {"$ref": "#/components/schemas/PixelBox"}},
                      "model": {"type": "string"}, "demo": {"type": "boolean"}, "finish_reason": {"type": "string"},
                      "usage": {"type": "object", "required": ["prompt_tokens", "image_tokens", "completion_tokens", "total_tokens"], "properties": {
                        "prompt_tokens": {"type": "integer"}, "image_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"},
                        "total_tokens": {"type": "integer"}}},
                      "timings": {"type": "object", "required": ["queue_ms", "image_ms", "prefill_ms", "decode_ms", "tokens_per_s", "total_ms"],
                        "properties": {"queue_ms": {"type": "number"}, "image_ms": {"type": "number"}, "prefill_ms": {"type": "number"},
                          "decode_ms": {"type": "number"}, "tokens_per_s": {"type": "number"}, "total_ms": {"type": "number"}}},
                      "disclaimer": {"type": "string"}, "volume": {"$ref": "#/components/schemas/VolumeSummary"},
                      "analysis_id": {"type": "string", "description": "the lab record's id (GET /api/analyses/{id}); absent with --no-record"},
                      "json": {"type": "object", "description": "under schema or format: the answer parsed"},
                      "json_error": {"type": "string", "description": "under schema or format: why there is no json (e.g. the answer reached max_new_tokens)"}}},
                  "AnalysisPage": {"type": "object", "required": ["analyses", "next_cursor"], "properties": {
                    "analyses": {"type": "array", "items": {"$ref": "#/components/schemas/Analysis"}},
                    "next_cursor": {"type": "string", "nullable": true}}},
                  "Analysis": {"type": "object", "description": "one analysis as the lab record keeps it (docs/record.md); never a patient identifier",
                    "required": ["id", "created_at", "source", "status", "question", "answer", "boxes", "images", "params", "model", "engine", "timings", "usage"],
                    "properties": {
                      "id": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                      "source": {"type": "string", "enum": ["api", "openai", "page", "ask", "batch", "compare", "regress"]}, "run_id": {"type": "string", "nullable": true},
                      "status": {"type": "string", "enum": ["ok", "error"]}, "question": {"type": "string"},
                      "context": {"type": "string", "nullable": true}, "system": {"type": "string", "nullable": true},
                      "answer": {"type": "string", "nullable": true}, "reasoning": {"type": "string", "nullable": true},
                      "boxes": {"type": "array", "items": {"type": "object", "required": ["label", "box_2d"], "properties": {
                        "label": {"type": "string"}, "box_2d": {"type": "array", "items": {"type": "number"}},
                        "pixels": {"type": "object", "nullable": true, "properties": {"x0": {"type": "number"}, "y0": {"type": "number"},
                          "x1": {"type": "number"}, "y1": {"type": "number"}}}}}},
                      "images": {"type": "array", "items": {"type": "object", "required": ["sha256", "format", "width", "height"], "properties": {
                        "sha256": {"type": "string"}, "format": {"type": "string"}, "modality": {"type": "string"}, "width": {"type": "integer"},
                        "height": {"type": "integer"}, "frame": {"type": "integer"}, "slices": {"type": "array", "items": {"type": "integer"}},
                        "window": {"type": "string"}, "letterbox": {"type": "object", "properties": {"side": {"type": "integer"},
                          "content_width": {"type": "integer"}, "content_height": {"type": "integer"}, "offset_x": {"type": "integer"},
                          "offset_y": {"type": "integer"}}},
                        "model_input": {"type": "string", "description": "SHA-256 of the kept copy of the model's input (--record-images model-input); absent when none"}}}},
                      "params": {"type": "object", "properties": {"max_new_tokens": {"type": "integer"}, "temperature": {"type": "number"},
                        "top_p": {"type": "number"}, "top_k": {"type": "integer"}, "seed": {"type": "integer"},
                        "stop": {"type": "array", "items": {"type": "string"}}, "ignore_eos": {"type": "boolean"},
                        "constraint": {"type": "string", "description": "json, or the JSON Schema the answer followed"}}},
                      "model": {"type": "object", "required": ["name", "file", "sha256"], "properties": {"name": {"type": "string"},
                        "file": {"type": "string", "nullable": true, "description": "null for a remote model"},
                        "sha256": {"type": "string", "nullable": true, "description": "null until computed, in the background, once per file"},
                        "projector_file": {"type": "string", "nullable": true}, "projector_sha256": {"type": "string", "nullable": true}}},
                      "engine": {"type": "object", "required": ["kind", "backend"], "properties": {"kind": {"type": "string", "enum": ["in_process", "remote"]},
                        "backend": {"type": "string"}, "urls": {"type": "array", "items": {"type": "string"}}}},
                      "timings": {"type": "object", "properties": {"queue_ms": {"type": "number"}, "image_ms": {"type": "number"},
                        "prefill_ms": {"type": "number"}, "decode_ms": {"type": "number"}, "total_ms": {"type": "number"}}},
                      "usage": {"type": "object", "properties": {"prompt_tokens": {"type": "integer"}, "image_tokens": {"type": "integer"},
                        "completion_tokens": {"type": "integer"}}},
                      "finish_reason": {"type": "string", "nullable": true},
                      "fields": {"type": "object", "nullable": true, "description": "under a schema (params.constraint): the answer's object"},
                      "error": {"type": "object", "nullable": true, "required": ["code", "message"], "properties": {
                        "code": {"type": "string"}, "message": {"type": "string"}}}}},
                  "CompareRequest": {"type": "object", "required": ["images", "questions"], "properties": {
                    "images": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
                      "name": {"type": "string"}, "data": {"type": "string", "description": "base64 or a data: URI"},
                      "record_image": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$",
                        "description": "instead of data: a copy of a model input the record keeps, by its SHA-256 or the image's; already windowed, so window does not apply"}}}},
                    "questions": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "context": {"type": "string"}, "window": {"type": "string", "description": "for uploaded images; not for record_image ones"},
                    "max_new_tokens": {"type": "integer", "minimum": 1, "maximum": \(maxNewTokens)},
                    "temperature": {"type": "number", "minimum": 0, "maximum": 2}, "stream": {"type": "boolean"}}},
                  "ReportModel": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "file": {"type": "string"},
                    "sha256": {"type": "string"}}},
                  "CompareGrid": {"type": "object", "required": ["experiment_id", "created_at", "model", "params", "questions", "images", "cells"], "properties": {
                    "experiment_id": {"type": "string"}, "created_at": {"type": "string"}, "model": {"$ref": "#/components/schemas/ReportModel"},
                    "params": {"type": "object"}, "questions": {"type": "array", "items": {"type": "string"}},
                    "images": {"type": "array", "items": {"type": "object", "required": ["name", "sha256"], "properties": {
                      "name": {"type": "string"}, "sha256": {"type": "string"}}}},
                    "cells": {"type": "array", "items": {"type": "object", "required": ["question", "image", "timings"], "properties": {
                      "question": {"type": "string"}, "image": {"type": "string"}, "answer": {"type": "string"}, "analysis_id": {"type": "string"},
                      "timings": {"type": "object", "properties": {"total_ms": {"type": "number"}}}, "error": {"type": "string"}}}}}},
                  "RegressionReport": {"type": "object", "required": ["set", "run_id", "model", "passed", "failed", "pass_rate", "cases"], "properties": {
                    "set": {"type": "string"}, "file": {"type": "string"}, "run_id": {"type": "string"}, "created_at": {"type": "string"},
                    "model": {"$ref": "#/components/schemas/ReportModel"}, "params": {"type": "object"},
                    "passed": {"type": "integer"}, "failed": {"type": "integer"}, "pass_rate": {"type": "number"},
                    "previous_run_id": {"type": "string"}, "previous_pass_rate": {"type": "number"},
                    "newly_failing": {"type": "array", "items": {"type": "string"}}, "newly_passing": {"type": "array", "items": {"type": "string"}},
                    "answer_changed": {"type": "array", "items": {"type": "string"}},
                    "cases": {"type": "array", "items": {"type": "object", "required": ["id", "passed", "answer", "failed_expectations", "previous"], "properties": {
                      "id": {"type": "string"}, "passed": {"type": "boolean"}, "question": {"type": "string"},
                      "images": {"type": "array", "items": {"type": "string"}}, "answer": {"type": "string", "nullable": true},
                      "error": {"type": "string", "nullable": true}, "expect": {"type": "object"}, "analysis_id": {"type": "string", "nullable": true},
                      "failed_expectations": {"type": "array", "items": {"type": "string"}},
                      "previous": {"type": "object", "nullable": true, "properties": {"passed": {"type": "boolean"}, "answer_changed": {"type": "boolean"}}}}}}}},
                  "ExperimentSummary": {"type": "object", "required": ["id", "kind", "created_at"], "properties": {
                    "id": {"type": "string"}, "kind": {"type": "string", "enum": ["compare", "regression"]}, "name": {"type": "string"},
                    "created_at": {"type": "string"}, "model_file": {"type": "string"}, "model_sha256": {"type": "string"}, "pass_rate": {"type": "number"}}},
                  "RenderRequest": {"type": "object", "required": ["image"], "properties": {
                    "image": {"type": "string"}, "window": {"$ref": "#/components/schemas/Window"},
                    "frame": {"type": "integer", "minimum": 0}, "slice": {"type": "integer", "minimum": 0},
                    "region": {"$ref": "#/components/schemas/Region"},
                    "model_input": {"type": "boolean", "default": false,
                      "description": "return the letterboxed square the model receives (the loaded projector's side, 896 for MedGemma and while no model is loaded) and its letterbox"}}},
                  "Rendered": {"type": "object", "required": ["image", "width", "height", "format", "metadata"], "properties": {
                    "image": {"type": "string"}, "width": {"type": "integer"}, "height": {"type": "integer"}, "format": {"type": "string"},
                    "metadata": {"type": "object", "description": "identifier-free facts about the file (format, size, modality, window...)"},
                    "letterbox": {"$ref": "#/components/schemas/Letterbox"}}},
                  "Letterbox": {"type": "object", "description": "where the image sits in the model's square (with model_input); the rest is black padding",
                    "required": ["side", "original_width", "original_height", "offset_x", "offset_y", "content_width", "content_height", "scale_x", "scale_y", "origin_x", "origin_y"],
                    "properties": {"side": {"type": "integer"}, "original_width": {"type": "integer"}, "original_height": {"type": "integer"},
                      "offset_x": {"type": "integer"}, "offset_y": {"type": "integer"}, "content_width": {"type": "integer"},
                      "content_height": {"type": "integer"}, "scale_x": {"type": "number"}, "scale_y": {"type": "number"},
                      "origin_x": {"type": "number"}, "origin_y": {"type": "number"}}},
                  "Health": {"type": "object", "required": ["status", "ready", "gpu_layers", "queue", "version", "disclaimer"], "properties": {
                    "status": {"type": "string", "enum": ["ok", "loading", "no_model", "error"]}, "ready": {"type": "boolean"},
                    "message": {"type": "string"}, "backend": {"type": "string"}, "gpu_layers": {"type": "integer"},
                    "model": {"type": "object", "required": ["name", "demo", "context_tokens", "devices"], "properties": {
                      "name": {"type": "string"}, "projector": {"type": "string"}, "vision": {"type": "boolean"}, "demo": {"type": "boolean"},
                      "context_tokens": {"type": "integer"}, "image_size": {"type": "integer"}, "tokens_per_image": {"type": "integer"},
                      "devices": {"type": "array", "items": {"type": "string"}}, "llama_build": {"type": "string"}}},
                    "queue": {"type": "object", "required": ["running", "waiting", "slots", "max_waiting"], "properties": {
                      "running": {"type": "integer"}, "waiting": {"type": "integer"}, "slots": {"type": "integer"}, "max_waiting": {"type": "integer"}}},
                    "version": {"type": "string"}, "disclaimer": {"type": "string"},
                    "record": {"type": "object", "required": ["status", "errors"], "properties": {
                      "status": {"type": "string", "enum": ["ok", "degraded", "off"]}, "path": {"type": "string"},
                      "errors": {"type": "integer"}, "message": {"type": "string"}}},
                    "backends": {"type": "array", "description": "each engine of a pool (medlab serve --backend), in configuration order",
                      "items": {"type": "object", "required": ["name", "kind", "state", "outstanding", "slots", "requests", "failures"],
                      "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                        "state": {"type": "string", "enum": ["up", "down", "unknown"]}, "outstanding": {"type": "integer"},
                        "slots": {"type": "integer"}, "requests": {"type": "integer"}, "failures": {"type": "integer"},
                        "latency_ms": {"type": "number"}, "first_event_ms": {"type": "number"}, "last_error": {"type": "string"}, "vision": {"type": "boolean", "description": "whether it sees images (said by the server, else configured)"}}}}}},
                  "ChatRequest": {"type": "object", "required": ["messages"], "properties": {
                    "model": {"type": "string"},
                    "messages": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["role", "content"], "properties": {
                      "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
                      "content": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object", "required": ["type"], "properties": {
                        "type": {"type": "string", "enum": ["text", "image_url"]}, "text": {"type": "string"},
                        "image_url": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "description": "data: URI only"}}}}}}]}}}},
                    "stream": {"type": "boolean"}, "max_tokens": {"type": "integer", "minimum": 1, "maximum": \(maxNewTokens)},
                    "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": \(maxNewTokens)},
                    "temperature": {"type": "number", "minimum": 0, "maximum": 2}, "top_p": {"type": "number", "minimum": 0, "maximum": 1},
                    "seed": {"type": "integer", "minimum": 0, "maximum": 4294967295},
                    "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
                    "response_format": {"type": "object", "required": ["type"], "properties": {
                      "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]}, "schema": {"type": "object"},
                      "json_schema": {"type": "object", "properties": {"name": {"type": "string"}, "schema": {"type": "object"}, "strict": {"type": "boolean"}}}}}}},
                  "ChatCompletion": {"type": "object", "required": ["id", "object", "created", "model", "choices", "usage"], "properties": {
                    "id": {"type": "string"}, "object": {"type": "string", "enum": ["chat.completion"]}, "created": {"type": "integer"},
                    "model": {"type": "string"}, "disclaimer": {"type": "string"},
                    "choices": {"type": "array", "items": {"type": "object", "required": ["index", "message", "finish_reason"], "properties": {
                      "index": {"type": "integer"}, "finish_reason": {"type": "string", "enum": ["stop", "length"]},
                      "message": {"type": "object", "required": ["role", "content"], "properties": {
                        "role": {"type": "string"}, "content": {"type": "string"}, "reasoning_content": {"type": "string"}}}}}},
                    "usage": {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"], "properties": {
                      "prompt_tokens": {"type": "integer"}, "completion_tokens": {"type": "integer"}, "total_tokens": {"type": "integer"}}}}},
                  "Model": {"type": "object", "required": ["id", "object", "created", "owned_by"], "properties": {
                    "id": {"type": "string"}, "object": {"type": "string"}, "created": {"type": "integer"}, "owned_by": {"type": "string"}}},
                  "ModelList": {"type": "object", "required": ["object", "data"], "properties": {
                    "object": {"type": "string"}, "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}}}
                }
              }
            }
            """
    }
}
