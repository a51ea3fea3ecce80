// Interface strings in English and Chinese, the language switch, and the example questions
// (those of the original article, in both languages).

const STORAGE_KEY = "medlab.lang";

const STRINGS = {
  en: {
    skipToQuestion: "Skip to the question",
    notice: "Research and teaching use only — not for diagnosis",
    statusChecking: "Checking the model…",
    statusOk: "Ready · {model} · {backend}",
    statusDemo: "Demo model · {backend}",
    statusLoading: "Loading the model…",
    statusNoModel: "No model",
    statusError: "Model error",
    statusOffline: "Server unreachable",
    detailDemo: "This is a tiny demo model with random weights: its answers are gibberish and mean nothing. To use MedGemma, put its GGUF text model and mmproj file in ~/.cache/medlab/models (see the README) and restart `medlab serve`.",
    detailLoading: "The model is loading; questions can be asked as soon as it is ready.",
    detailNoModel: "No model is loaded, so questions cannot be answered. Download MedGemma's GGUF text model and its mmproj file (see the README), put them in ~/.cache/medlab/models and restart `medlab serve`.",
    detailError: "The model failed to load. Check the server log and the model files, then restart `medlab serve`.",
    detailOffline: "The page cannot reach the lab server. Is `medlab serve` still running?",
    detailOk: "Model {model} on {backend}.",
    images: "Images",
    dropTitle: "Drop images here or choose files",
    dropHint: "PNG, JPEG, DICOM, NIfTI (.nii, .nii.gz) — several files for prior/current or a series",
    dropOverlay: "Drop to add images",
    askAbout: "Ask about",
    scopeCurrent: "the image shown",
    scopeAll: "all images, in order (prior → current, or a series)",
    scopeVolume: "the whole volume (CT recipe: up to 85 slices)",
    volumeShown: "volume: {shown} of {total} slices shown ({packing})",
    clearImages: "Remove all images",
    removeImage: "Remove {name}",
    preview: "Preview",
    toolPan: "Pan",
    toolWindow: "Window/level",
    toolMark: "Mark region",
    zoomIn: "Zoom in",
    zoomOut: "Zoom out",
    zoomFit: "Fit",
    clearMark: "Clear mark",
    clearBoxes: "Hide boxes",
    showBoxes: "Show boxes",
    windowPreset: "Window",
    presetDefault: "File default",
    presetLung: "Lung (−600/1500)",
    presetMediastinum: "Mediastinum (50/350)",
    presetBone: "Bone (400/1800)",
    presetBrain: "Brain (40/80)",
    presetAbdomen: "Abdomen (50/400)",
    presetCustom: "Custom",
    wlReadout: "C {c} · W {w}",
    slice: "Slice",
    frame: "Frame",
    canvasLabel: "Image preview",
    emptyPreview: "No image yet. Drop a chest X-ray, a CT slice or a volume on the page.",
    rendering: "Rendering…",
    viewerHint: "Wheel or +/− to zoom · drag to pan · W window/level · M mark a region · Esc clears the mark",
    metadata: "Image information",
    metaNote: "Identifier-free summary; patient identifiers are never shown or sent to the model.",
    metaNone: "No information yet.",
    askTitle: "Question",
    question: "Question",
    examples: "Example questions",
    examplesRegion: "About the marked region",
    insertRegion: "+ “the marked region”",
    regionPhrase: "the marked region",
    questionPlaceholder: "e.g. Describe the lung fields, heart size and mediastinum.",
    contextTitle: "Prior report / clinical context (optional)",
    contextPlaceholder: "e.g. CT 3 months ago: 8 mm nodule in the right upper lobe.",
    advanced: "Advanced settings",
    maxTokens: "Max new tokens",
    temperature: "Temperature",
    systemText: "System text",
    apiKey: "API key (if the server needs one)",
    ask: "Ask",
    stop: "Stop",
    askShortcut: "Ctrl+Enter",
    answer: "Answer",
    reasoning: "Model reasoning",
    copy: "Copy",
    copied: "Copied",
    downloadMd: "Download Markdown",
    downloadJson: "Download JSON",
    history: "History",
    clearHistory: "Clear",
    historyEmpty: "Questions you ask in this browser session appear here.",
    restore: "Restore",
    stateWaiting: "Waiting for the model…",
    stateStreaming: "Writing…",
    stateDone: "Done",
    stateStopped: "Stopped",
    stateFailed: "Failed",
    stats: "{tokensIn} tokens in · {tokensOut} out · {tps} tokens/s · {total} s",
    statsModel: "model {model}",
    boxesFound: "{n} box(es) drawn on the image",
    errNoImage: "Load an image first.",
    errNoQuestion: "Write a question first.",
    errUnsupported: "{name}: not a PNG, JPEG, DICOM or NIfTI file.",
    errDecode: "{name}: the browser could not decode this image.",
    errRender: "{name}: {message}",
    errNetwork: "The lab server could not be reached ({message}).",
    errHttp: "The server answered {status}: {message}",
    errStream: "The answer stream broke off: {message}",
    errBusy: "The lab is busy (queue full). Try again in about {s} s.",
    errTooBig: "{name} is too large for the server ({message}).",
    regionPoint: "Mark at ({x}, {y})",
    regionRect: "Marked region ({x0}, {y0}) – ({x1}, {y1})",
    imageOf: "image {i} of {n}",
    copyFailed: "Could not copy; select the text instead.",
    mdDisclaimer: "Research and teaching use only — not for diagnosis.",
    mdQuestion: "Question",
    mdContext: "Context",
    mdAnswer: "Answer",
    mdReasoning: "Model reasoning",
    mdImages: "Images",
    mdModel: "Model",
  },
  zh: {
    skipToQuestion: "跳到提问",
    notice: "仅供科研与教学使用——不可用于诊断",
    statusChecking: "正在检查模型…",
    statusOk: "就绪 · {model} · {backend}",
    statusDemo: "演示模型 · {backend}",
    statusLoading: "模型加载中…",
    statusNoModel: "没有模型",
    statusError: "模型出错",
    statusOffline: "无法连接服务器",
    detailDemo: "这是随机权重的微型演示模型:它的回答是乱码,没有任何意义。要使用 MedGemma,请把 GGUF 文本模型和 mmproj 文件放到 ~/.cache/medlab/models(见 README),然后重新启动 `medlab serve`。",
    detailLoading: "模型正在加载,加载完成后即可提问。",
    detailNoModel: "没有加载模型,无法回答问题。请下载 MedGemma 的 GGUF 文本模型和 mmproj 文件(见 README),放到 ~/.cache/medlab/models,然后重新启动 `medlab serve`。",
    detailError: "模型加载失败。请查看服务器日志和模型文件,然后重新启动 `medlab serve`。",
    detailOffline: "页面连接不到实验台服务器。`medlab serve` 还在运行吗?",
    detailOk: "模型 {model},运行于 {backend}。",
    images: "影像",
    dropTitle: "把影像拖到这里,或选择文件",
    dropHint: "PNG、JPEG、DICOM、NIfTI(.nii、.nii.gz)——可上传多个文件:前后对比或序列",
    dropOverlay: "松开即可添加影像",
    askAbout: "提问对象",
    scopeCurrent: "当前显示的影像",
    scopeAll: "全部影像,按顺序(既往 → 当前,或序列)",
    scopeVolume: "整个容积(CT 方案:最多 85 层)",
    volumeShown: "容积:显示 {total} 层中的 {shown} 层({packing})",
    clearImages: "移除全部影像",
    removeImage: "移除 {name}",
    preview: "预览",
    toolPan: "平移",
    toolWindow: "窗宽/窗位",
    toolMark: "标记区域",
    zoomIn: "放大",
    zoomOut: "缩小",
    zoomFit: "适应",
    clearMark: "清除标记",
    clearBoxes: "隐藏框",
    showBoxes: "显示框",
    windowPreset: "窗",
    presetDefault: "文件默认",
    presetLung: "肺窗(−600/1500)",
    presetMediastinum: "纵隔窗(50/350)",
    presetBone: "骨窗(400/1800)",
    presetBrain: "脑窗(40/80)",
    presetAbdomen: "腹部窗(50/400)",
    presetCustom: "自定义",
    wlReadout: "窗位 {c} · 窗宽 {w}",
    slice: "层面",
    frame: "帧",
    canvasLabel: "影像预览",
    emptyPreview: "还没有影像。把胸片、CT 层面或容积数据拖到页面上。",
    rendering: "正在渲染…",
    viewerHint: "滚轮或 +/− 缩放 · 拖动平移 · W 调窗 · M 标记区域 · Esc 清除标记",
    metadata: "影像信息",
    metaNote: "不含身份信息的摘要;患者身份信息不会显示,也不会发送给模型。",
    metaNone: "暂无信息。",
    askTitle: "提问",
    question: "问题",
    examples: "示例问题",
    examplesRegion: "关于标记区域",
    insertRegion: "+“标记区域”",
    regionPhrase: "标记区域",
    questionPlaceholder: "例如:请描述这张胸片中肺野透亮度、心脏大小及纵隔位置是否正常",
    contextTitle: "既往报告 / 临床信息(可选)",
    contextPlaceholder: "例如:患者3月前CT显示右肺上叶结节,本次复查……",
    advanced: "高级设置",
    maxTokens: "最大生成 token 数",
    temperature: "温度",
    systemText: "系统提示",
    apiKey: "API 密钥(服务器要求时填写)",
    ask: "提问",
    stop: "停止",
    askShortcut: "Ctrl+Enter",
    answer: "回答",
    reasoning: "模型推理过程",
    copy: "复制",
    copied: "已复制",
    downloadMd: "下载 Markdown",
    downloadJson: "下载 JSON",
    history: "历史记录",
    clearHistory: "清空",
    historyEmpty: "本次浏览器会话中的提问会显示在这里。",
    restore: "恢复",
    stateWaiting: "等待模型…",
    stateStreaming: "生成中…",
    stateDone: "完成",
    stateStopped: "已停止",
    stateFailed: "失败",
    stats: "输入 {tokensIn} token · 输出 {tokensOut} · {tps} token/秒 · {total} 秒",
    statsModel: "模型 {model}",
    boxesFound: "已在影像上画出 {n} 个框",
    errNoImage: "请先加载影像。",
    errNoQuestion: "请先输入问题。",
    errUnsupported: "{name}:不是 PNG、JPEG、DICOM 或 NIfTI 文件。",
    errDecode: "{name}:浏览器无法解码这张图片。",
    errRender: "{name}:{message}",
    errNetwork: "无法连接实验台服务器({message})。",
    errHttp: "服务器返回 {status}:{message}",
    errStream: "回答流中断:{message}",
    errBusy: "实验台正忙(队列已满),请约 {s} 秒后再试。",
    errTooBig: "{name} 超出服务器限制({message})。",
    regionPoint: "标记点 ({x}, {y})",
    regionRect: "标记区域 ({x0}, {y0}) – ({x1}, {y1})",
    imageOf: "第 {i} / {n} 张",
    copyFailed: "无法复制,请手动选择文字。",
    mdDisclaimer: "仅供科研与教学使用——不可用于诊断。",
    mdQuestion: "问题",
    mdContext: "临床信息",
    mdAnswer: "回答",
    mdReasoning: "模型推理过程",
    mdImages: "影像",
    mdModel: "模型",
  },
};

/** The article's example questions (section 1, 2.1, 4.2, 4.3, 5, 6.2), each in both languages. */
export const EXAMPLES = [
  { zh: "请描述这张胸片中肺野透亮度、心脏大小及纵隔位置是否正常",
    en: "Are the lung field lucency, heart size and mediastinal position in this chest X-ray normal? Describe them." },
  { zh: "请描述左肺上叶是否存在磨玻璃影及实变区域",
    en: "Describe whether there are ground-glass opacities or consolidation in the left upper lobe." },
  { zh: "这张胸片里有没有气胸表现?",
    en: "Are there signs of pneumothorax on this chest X-ray?" },
  { zh: "请描述这张CT的总体表现",
    en: "Describe the overall findings of this CT." },
  { zh: "这张片子主要显示什么?",
    en: "What does this image mainly show?" },
  { zh: "请判断是否存在肺实变",
    en: "Is there pulmonary consolidation?" },
  { zh: "请描述支气管充气征是否明显",
    en: "Is an air bronchogram evident? Describe it." },
  { zh: "请评估胸腔积液量(少量/中量/大量)",
    en: "Estimate the amount of pleural effusion (small / moderate / large)." },
  { zh: "升主动脉管壁可见环形高密度影,这代表什么?",
    en: "There is a ring-shaped high-density shadow in the wall of the ascending aorta. What does it represent?" },
  { zh: "请列出影像中所有异常解剖结构及其位置",
    en: "List every abnormal anatomical structure in the image and its location." },
  { zh: "请找出影像中的异常并用方框标出(JSON 格式,box_2d)",
    en: "Locate the abnormal findings and give their bounding boxes as JSON (box_2d)." },
];

/** Questions offered once a region is marked: the article's "arrow" question, reworded. */
export const REGION_EXAMPLES = [
  { zh: "标记区域内的高信号最可能是什么?",
    en: "What is the high-signal area in the marked region most likely to be?" },
  { zh: "标记区域是什么解剖结构?",
    en: "What anatomical structure is in the marked region?" },
  { zh: "请描述标记区域的影像学表现",
    en: "Describe the imaging findings in the marked region." },
];

let current = "en";
const listeners = [];

/** The language in use: the remembered choice, else the browser's, else English. */
function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === "zh" || saved === "en") return saved;
  } catch { /* storage blocked: fall through */ }
  const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
  for (const lang of langs) {
    const l = String(lang).toLowerCase();
    if (l.startsWith("zh")) return "zh";
    if (l.startsWith("en")) return "en";
  }
  return "en";
}

export function language() { return current; }

/** A translated string with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const table = STRINGS[current] || STRINGS.en;
  const text = table[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? `{${name}}`));
}

/** Rewrites every element marked with data-i18n* attributes. */
export function applyTranslations(root = document) {
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const btn of root.querySelectorAll("[data-lang]")) btn.setAttribute("aria-pressed", String(btn.dataset.lang === current));
}

export function setLanguage(lang, remember = true) {
  current = lang === "zh" ? "zh" : "en";
  if (remember) {
    try { localStorage.setItem(STORAGE_KEY, current); } catch { /* ignore */ }
  }
  applyTranslations();
  for (const fn of listeners) fn(current);
}

export function onLanguageChange(fn) { listeners.push(fn); }

export function initLanguage() {
  current = initialLanguage();
  applyTranslations();
  for (const btn of document.querySelectorAll("[data-lang]")) {
    btn.addEventListener("click", () => setLanguage(btn.dataset.lang));
  }
}
