/// The notice every answer carries: MedGemma here is a research and teaching instrument.
public enum Disclaimer {
    public static let english =
        "Research and teaching use only — not for diagnosis. Model output may be wrong; a qualified clinician must interpret any image."
    public static let chinese = "仅供科研与教学使用——不可用于诊断。模型输出可能有误，影像须由合格的临床医生解读。"
}
